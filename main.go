// Command atrium is a self-hosted, multi-workspace CRM: one binary, one
// login, and every workspace in its own SQLite file.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"atrium/store"
	"atrium/tenant"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// usageError is a mistake in how the command was called: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// run executes one command line and returns the exit status: 0 on success,
// 1 on failure, 2 on bad usage. Errors are one sentence on stderr. When
// `atrium serve` holds the data directory, the command is carried out by that
// server instead (see commands_remote.go), with what it read of stdin.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	in := &recordingReader{r: stdin}
	m := NewMain(in, stdout, stderr)
	err := m.Run(context.Background(), args)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	var running *serverRunningError
	if errors.As(err, &running) {
		return running.forward(args, in.read.Bytes(), stdout, stderr)
	}
	return exitStatus(err, stderr)
}

// exitStatus reports err on stderr and returns the exit status it means.
func exitStatus(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "atrium: %s Run 'atrium help' for usage.\n", sentence(err.Error()))
		return 2
	default:
		fmt.Fprintf(stderr, "atrium: %s\n", sentence(store.ErrorMessageOrText(err)))
		return 1
	}
}

// sentence makes an error message read as one sentence.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "Unknown error."
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "?") && !strings.HasSuffix(s, "!") {
		s += "."
	}
	return s
}

// Main is the program: its settings, the parts it builds, and the commands.
// Tests build one, Run a command line, and Close it.
type Main struct {
	DataDir    string
	ConfigPath string
	MaxOpen    int
	// MaxImportMB bounds a workspace file an import takes in (see
	// store.MaxImportBytes); parallel imports stage at most twice it.
	MaxImportMB int64
	// MaxJobs and MaxJobsPerWorkspace bound the background jobs running
	// at once (see tenant.Options).
	MaxJobs             int
	MaxJobsPerWorkspace int
	// PublicURL is the instance's address as people reach it, the base of
	// links in emails (serve sets it; see tenant.Options.PublicURL).
	PublicURL string
	// listenURL is the public URL when neither PublicURL nor the config
	// gives one: serve's own address.
	listenURL string

	Manager *tenant.Manager
	Logger  *slog.Logger
	// sharedManager marks a Main that runs one command sent to a running
	// server: its Manager is the server's, which Close leaves open.
	sharedManager bool
	// workDir, when set, is the directory relative paths in arguments are
	// taken from: the caller's, for a command sent to a running server.
	workDir string

	stdin          io.Reader
	stdout, stderr io.Writer
}

// NewMain returns a Main with settings from the environment.
func NewMain(stdin io.Reader, stdout, stderr io.Writer) *Main {
	m := &Main{
		DataDir:     envOr("ATRIUM_DATA", "./data"),
		ConfigPath:  os.Getenv("ATRIUM_CONFIG"),
		MaxOpen:     tenant.DefaultMaxOpen,
		MaxImportMB: store.DefaultMaxImportBytes >> 20,
		MaxJobs:     tenant.DefaultMaxJobs,
		stdin:       stdin,
		stdout:      stdout,
		stderr:      stderr,

		MaxJobsPerWorkspace: tenant.DefaultMaxJobsPerWorkspace,
	}
	if v, err := strconv.Atoi(os.Getenv("ATRIUM_MAX_JOBS")); err == nil {
		m.MaxJobs = v
	}
	if v, err := strconv.Atoi(os.Getenv("ATRIUM_MAX_JOBS_PER_WORKSPACE")); err == nil {
		m.MaxJobsPerWorkspace = v
	}
	if v, err := strconv.Atoi(os.Getenv("ATRIUM_MAX_OPEN")); err == nil {
		m.MaxOpen = v
	}
	if v, err := strconv.ParseInt(os.Getenv("ATRIUM_MAX_IMPORT_MB"), 10, 64); err == nil {
		m.MaxImportMB = v
	}
	// A bad ATRIUM_LOG_FORMAT falls back to text here; serve, which uses
	// the format, refuses it.
	if m.Logger, _ = newLogger(stderr, os.Getenv("ATRIUM_LOG_FORMAT")); m.Logger == nil {
		m.Logger, _ = newLogger(stderr, "text")
	}
	return m
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

const usage = `Atrium is a multi-workspace CRM: every workspace is its own SQLite file.

Usage:
  atrium [global flags] <command> [flags]

Commands:
  serve [--addr HOST:PORT] [--public-url URL] [--trust-proxy [--trusted-proxies CIDRS]]
        [--metrics-addr HOST:PORT] [--log-format text|json]
                                                  run the web UI, the API and the background work
  user create --email E [--name N] [--superadmin] create a user; the password is the first line of stdin
  user password --email E                         set a user's password (the first line of stdin) and end
                                                  every session of theirs
  workspace create --name N [--owner EMAIL] [--region R]
                                                  create a workspace and print its id
  workspace list [--json]                         list workspaces
  workspace delete ID --yes [--now]               move a workspace to the trash (or delete it at once)
  workspace undelete ID                           take a workspace out of the trash
  workspace restore ID [--at RFC3339] [--as-new NAME]
                                                  restore a workspace from its replica
  workspace move ID --region R                    move a workspace to another region
  workspace plan ID PLAN                          give a workspace one of the config's plans (limits and quotas)
  workspace export ID -o FILE [--passphrase-file F]
                                                  write a workspace's export archive (protected with a passphrase)
  workspace import FILE [--name N] [--owner EMAIL] [--region R] [--passphrase-file F]
                                                  make a workspace from an archive or a .db file
  apikey create --workspace ID [--name N] [--role read|write]
                                                  create an API key; the key is the last word printed
  backup status [--json]                          replication position, lag and verification of every file
  backup verify ID|catalog [--json]               restore a replica aside and compare it with the live file
  restore-all                                     bring back the catalog and every workspace from the replicas
  migrate                                         migrate the catalog and every workspace
  check                                           run PRAGMA integrity_check over every file and unwrap every workspace key
  keys rotate-master                              wrap every workspace key with a new master key
  keys rotate-workspace ID                        a new data key for what a workspace writes from now on
  keys export ID|catalog -o FILE                  write a workspace's (or the catalog replica's) keys, for replica decrypt
  replica decrypt --keys FILE SRC DST             decrypt an encrypted replica directory (no data directory needed)

While 'atrium serve' runs, every other command still works on its data
directory: it is carried out by the server, through the owner-only socket
atrium.sock in the data directory, with the same output and exit status.
restore-all needs the server stopped.

Global flags (each also an environment variable):
  --data DIR       ATRIUM_DATA      where the catalog and workspace files live (default ./data)
  --config FILE    ATRIUM_CONFIG    regions and replication (default ./litestream.yml when present)
  --max-open N     ATRIUM_MAX_OPEN  idle workspace files kept open (default 256)
  --max-import-mb N  ATRIUM_MAX_IMPORT_MB
                   largest workspace file an import takes in, in MiB (default 2048)
  --max-jobs N     ATRIUM_MAX_JOBS  background jobs (imports, retention, purges) running at once (default: the cores)
  --max-jobs-per-workspace N  ATRIUM_MAX_JOBS_PER_WORKSPACE
                   of them, at once for one workspace (default 1)
`

// Run executes one command line.
func (m *Main) Run(ctx context.Context, args []string) error {
	fs := m.flagSet("atrium")
	if _, err := m.parse(fs, args[:globalFlagsEnd(args)]); err != nil {
		return err
	}
	args = args[globalFlagsEnd(args):]
	if len(args) == 0 {
		return usagef("No command given.")
	}
	cmd, rest := args[0], args[1:]
	if m.sharedManager && needsServerStopped(cmd) {
		return besideServerError(cmd, m.Manager.DataDir())
	}
	err := m.runCommand(ctx, cmd, rest)
	var running *serverRunningError
	if errors.As(err, &running) && needsServerStopped(cmd) {
		running.conn.Close()
		return besideServerError(cmd, running.dataDir)
	}
	return err
}

// runCommand executes one command with its arguments.
func (m *Main) runCommand(ctx context.Context, cmd string, rest []string) error {
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(m.stdout, usage)
		return nil
	case "serve":
		return m.cmdServe(ctx, rest)
	case "user":
		return m.dispatch(ctx, "user", rest, map[string]command{"create": m.cmdUserCreate, "password": m.cmdUserPassword})
	case "workspace":
		return m.dispatch(ctx, "workspace", rest, map[string]command{
			"create":   m.cmdWorkspaceCreate,
			"list":     m.cmdWorkspaceList,
			"delete":   m.cmdWorkspaceDelete,
			"restore":  m.cmdWorkspaceRestore,
			"move":     m.cmdWorkspaceMove,
			"undelete": m.cmdWorkspaceUndelete,
			"export":   m.cmdWorkspaceExport,
			"import":   m.cmdWorkspaceImport,
			"plan":     m.cmdWorkspacePlan,
		})
	case "backup":
		return m.dispatch(ctx, "backup", rest, map[string]command{"status": m.cmdBackupStatus, "verify": m.cmdBackupVerify})
	case "apikey":
		return m.dispatch(ctx, "apikey", rest, map[string]command{"create": m.cmdAPIKeyCreate})
	case "restore-all":
		return m.cmdRestoreAll(ctx, rest)
	case "migrate":
		return m.cmdMigrate(ctx, rest)
	case "check":
		return m.cmdCheck(ctx, rest)
	case "keys":
		return m.dispatch(ctx, "keys", rest, map[string]command{
			"rotate-master":    m.cmdKeysRotateMaster,
			"rotate-workspace": m.cmdKeysRotateWorkspace,
			"export":           m.cmdKeysExport,
		})
	case "replica":
		return m.dispatch(ctx, "replica", rest, map[string]command{"decrypt": m.cmdReplicaDecrypt})
	default:
		return usagef("%q is not a command.", cmd)
	}
}

// globalFlagsEnd returns the index of the command word: global flags come
// before it, and each takes a value unless written --flag=value.
func globalFlagsEnd(args []string) int {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "-h" && args[i] != "--help" {
		if !strings.Contains(args[i], "=") {
			i++
		}
		i++
	}
	return min(i, len(args))
}

type command func(ctx context.Context, args []string) error

func (m *Main) dispatch(ctx context.Context, group string, args []string, cmds map[string]command) error {
	if len(args) == 0 {
		return usagef("'atrium %s' needs a subcommand.", group)
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		return usagef("%q is not a subcommand of 'atrium %s'.", args[0], group)
	}
	return cmd(ctx, args[1:])
}

// flagSet returns a flag set that also takes the global flags, so they may
// come before or after the command.
func (m *Main) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // errors are reported as one sentence by run
	fs.StringVar(&m.DataDir, "data", m.DataDir, "data directory")
	fs.StringVar(&m.ConfigPath, "config", m.ConfigPath, "config file")
	fs.IntVar(&m.MaxOpen, "max-open", m.MaxOpen, "idle workspace files kept open")
	fs.Int64Var(&m.MaxImportMB, "max-import-mb", m.MaxImportMB, "largest workspace file an import takes in, in MiB")
	fs.IntVar(&m.MaxJobs, "max-jobs", m.MaxJobs, "background jobs running at once")
	fs.IntVar(&m.MaxJobsPerWorkspace, "max-jobs-per-workspace", m.MaxJobsPerWorkspace, "background jobs running at once for one workspace")
	return fs
}

// parse parses flags that may be mixed with positional arguments and returns
// the positional ones. Flag errors are usage errors.
func (m *Main) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(m.stdout, usage)
				return nil, err
			}
			msg := err.Error()
			if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
				msg = fmt.Sprintf("Unknown flag --%s.", name)
			}
			return nil, usagef("%s", msg)
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// open builds the workspace manager from the settings.
func (m *Main) open(ctx context.Context) error {
	return m.openFor(ctx, false)
}

// openFor opens the Manager; recovering, a missing catalog must come back
// from its replica (see tenant.Options.Recover).
func (m *Main) openFor(ctx context.Context, recovering bool) error {
	if m.sharedManager {
		return nil // the running server's, whatever --data and --config say
	}
	if m.DataDir == "" {
		return usagef("--data must not be empty.")
	}
	if m.MaxOpen < 1 {
		return usagef("--max-open must be at least 1.")
	}
	if m.MaxJobs < 1 || m.MaxJobsPerWorkspace < 1 {
		return usagef("--max-jobs and --max-jobs-per-workspace must be at least 1.")
	}
	if m.MaxImportMB < 1 || m.MaxImportMB > 1<<20 {
		return usagef("--max-import-mb must be between 1 and 1048576.")
	}
	// Process-wide, like the imports they bound.
	store.MaxImportBytes = m.MaxImportMB << 20
	tenant.MaxStagingBytes = 2 * store.MaxImportBytes
	configPath := m.ConfigPath
	if configPath == "" {
		if _, err := os.Stat("litestream.yml"); err == nil {
			configPath = "litestream.yml"
		}
	}
	cfg, err := tenant.LoadConfig(configPath, m.DataDir)
	if err != nil {
		return err
	}
	fromConfig := m.PublicURL == "" && cfg.PublicURL != ""
	if raw := cmp.Or(m.PublicURL, cfg.PublicURL, m.listenURL); raw != "" {
		if m.PublicURL, err = tenant.ParsePublicURL(raw); err != nil {
			if fromConfig {
				return fmt.Errorf("the public_url in %s: %w", configPath, err)
			}
			return usagef("--public-url: %s.", err)
		}
	}
	m.Manager, err = tenant.Open(ctx, tenant.Options{DataDir: m.DataDir, Config: cfg, MaxOpen: m.MaxOpen, Logger: m.Logger, Recover: recovering,
		MaxJobs: m.MaxJobs, MaxJobsPerWorkspace: m.MaxJobsPerWorkspace, PublicURL: m.PublicURL})
	var locked *tenant.LockedError
	if errors.As(err, &locked) {
		return serverOrLocked(locked)
	}
	return err
}

// localPath returns p as the caller means it: a relative path is taken from
// the caller's working directory, which for a command sent to a running
// server is not the server's.
func (m *Main) localPath(p string) string {
	if m.workDir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(m.workDir, p)
}

// Close releases what Run opened; a running server's Manager stays open.
func (m *Main) Close() error {
	if m.sharedManager {
		m.Manager = nil
		return nil
	}
	if m.Manager != nil {
		err := m.Manager.Close()
		m.Manager = nil
		return err
	}
	return nil
}
