package tenant

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		dir := t.TempDir()
		cfg, err := LoadConfig("", dir)
		if err != nil {
			t.Fatal(err)
		}
		r, err := cfg.Region("")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := r.Data, filepath.Join(dir, "workspaces"); got != want {
			t.Errorf("data = %s, want %s", got, want)
		}
		if got, want := r.Replica.URL, "file://"+filepath.Join(dir, "replicas"); got != want {
			t.Errorf("replica = %s, want %s", got, want)
		}
	})
	t.Run("RepositoryFileMatchesDefaults", func(t *testing.T) {
		dir := t.TempDir()
		fromFile, err := LoadConfig("../litestream.yml", dir)
		if err != nil {
			t.Fatal(err)
		}
		defaults, _ := LoadConfig("", dir)
		got, want := fromFile.Regions[DefaultRegion], defaults.Regions[DefaultRegion]
		if len(fromFile.Regions) != 1 || got.Data != want.Data || got.Replica.URL != want.Replica.URL {
			t.Fatalf("litestream.yml gives %+v, defaults %+v", got, want)
		}
	})
	t.Run("RegionsAndEnv", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("ATRIUM_TEST_SECRET", "s3cr3t")
		path := filepath.Join(dir, "cfg.yml")
		os.WriteFile(path, []byte(`
regions:
  default:
    replica:
      url: file:///tmp/r
  eu:
    data: `+dir+`/eu
    replica:
      type: s3
      bucket: b
      secret-access-key: ${ATRIUM_TEST_SECRET}
      force-path-style: true
`), 0o600)
		cfg, err := LoadConfig(path, dir)
		if err != nil {
			t.Fatal(err)
		}
		eu, err := cfg.Region("eu")
		if err != nil {
			t.Fatal(err)
		}
		if eu.Data != dir+"/eu" || eu.Replica.SecretAccessKey != "s3cr3t" || eu.Replica.ForcePathStyle == nil || !*eu.Replica.ForcePathStyle {
			t.Fatalf("eu = %+v %+v", eu, eu.Replica)
		}
		if names := cfg.RegionNames(); strings.Join(names, ",") != "default,eu" {
			t.Fatalf("names = %v", names)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		dir := t.TempDir()
		for name, body := range map[string]string{
			"bad yaml":    "regions: [",
			"bad region":  "regions:\n  EU!: {}\n",
			"unknown key": "regions:\n  default:\n    dta: x\n",
		} {
			path := filepath.Join(dir, "c.yml")
			os.WriteFile(path, []byte(body), 0o600)
			if _, err := LoadConfig(path, dir); err == nil {
				t.Errorf("%s: no error", name)
			}
		}
		if _, err := LoadConfig(filepath.Join(dir, "missing.yml"), dir); err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("missing file: %v", err)
		}
	})
	t.Run("RegionsMustNotOverlap", func(t *testing.T) {
		// A move between two regions that share a place, or a deletion in
		// one of them, would remove the other's copy.
		dir := t.TempDir()
		os.Mkdir(filepath.Join(dir, "real"), 0o700)
		if err := os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "link")); err != nil {
			t.Fatal(err)
		}
		for name, body := range map[string]string{
			"same data":              "regions:\n  a:\n    data: /srv/x\n  b:\n    data: /srv/x/\n",
			"nested data":            "regions:\n  a:\n    data: /srv/x\n  b:\n    data: /srv/x/b\n",
			"same file replica":      "regions:\n  a:\n    replica:\n      url: file:///r\n  b:\n    replica:\n      url: file:///r\n",
			"replica in data":        "regions:\n  a:\n    data: /srv/a\n  b:\n    replica:\n      url: file:///srv/a/r\n",
			"same bucket and path":   "regions:\n  a:\n    replica:\n      url: s3://bkt/p\n  b:\n    replica:\n      url: s3://bkt/p\n",
			"nested bucket prefix":   "regions:\n  a:\n    replica:\n      url: s3://bkt/p\n  b:\n    replica:\n      url: s3://bkt/p/q\n",
			"AWS written two ways":   "regions:\n  a:\n    replica:\n      url: s3://bkt/p\n  b:\n    replica:\n      url: s3://bkt/p?endpoint=https://s3.eu-west-1.amazonaws.com\n",
			"data through a symlink": "regions:\n  a:\n    data: " + dir + "/real\n  b:\n    data: " + dir + "/link/b\n",
		} {
			path := filepath.Join(dir, "c.yml")
			os.WriteFile(path, []byte(body), 0o600)
			if _, err := LoadConfig(path, dir); err == nil || !strings.Contains(err.Error(), "overlap") {
				t.Errorf("%s: err = %v", name, err)
			}
		}
		for name, body := range map[string]string{
			"prefix that is not a parent": "regions:\n  a:\n    replica:\n      url: s3://bkt/p\n  b:\n    replica:\n      url: s3://bkt/p2\n",
			"other bucket":                "regions:\n  a:\n    replica:\n      url: s3://bkt/p\n  b:\n    replica:\n      url: s3://other/p\n",
			"other endpoint":              "regions:\n  a:\n    replica:\n      url: s3://bkt/p?endpoint=http://127.0.0.1:1\n  b:\n    replica:\n      url: s3://bkt/p?endpoint=http://127.0.0.1:2\n",
		} {
			path := filepath.Join(dir, "c.yml")
			os.WriteFile(path, []byte(body), 0o600)
			if _, err := LoadConfig(path, dir); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}
