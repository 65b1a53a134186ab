package handlers

import (
	"archive/zip"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"atrium/store"
)

func TestAPI_Deals(t *testing.T) {
	f := newAPIFixture(t)
	var d store.Deal
	mustDecode(t, f.ts.api(t, f.a.key, "GET", "/api/v1/deals/"+f.a.deal, "").body, &d)
	if d.Value != "1200.10" || d.Currency != "EUR" || d.PipelineID != f.a.pipeline {
		t.Fatalf("deal %+v", d)
	}
	resp := f.ts.api(t, f.a.key, "PATCH", "/api/v1/deals/"+f.a.deal, `{"value":"0.10","currency":"usd"}`)
	wantStatus(t, "patch value", resp, http.StatusOK)
	mustDecode(t, resp.body, &d)
	if d.Value != "0.10" || d.Currency != "USD" {
		t.Fatalf("after patch %+v", d)
	}
	wantAPIError(t, "value as a number", f.ts.api(t, f.a.key, "POST", "/api/v1/deals", `{"title":"x","value":1200.10}`), http.StatusUnprocessableEntity, "validation", "value")
	wantAPIError(t, "value with a comma", f.ts.api(t, f.a.key, "POST", "/api/v1/deals", `{"title":"x","value":"1,200.10"}`), http.StatusUnprocessableEntity, "validation", "value")
	wantAPIError(t, "B's pipeline", f.ts.api(t, f.a.key, "POST", "/api/v1/deals", `{"title":"x","pipeline_id":"`+f.b.pipeline+`"}`), http.StatusUnprocessableEntity, "validation", "pipeline_id")
	wantAPIError(t, "B's contact", f.ts.api(t, f.a.key, "POST", "/api/v1/deals", `{"title":"x","contact_id":"`+f.b.contact+`"}`), http.StatusUnprocessableEntity, "validation", "contact_id")
	var bDeal store.Deal
	mustDecode(t, f.ts.api(t, f.b.key, "GET", "/api/v1/deals/"+f.b.deal, "").body, &bDeal)
	wantAPIError(t, "B's stage", f.ts.api(t, f.a.key, "PATCH", "/api/v1/deals/"+f.a.deal, `{"stage_id":"`+bDeal.StageID+`"}`), http.StatusUnprocessableEntity, "validation", "stage_id")
	wantAPIError(t, "bad status", f.ts.api(t, f.a.key, "PATCH", "/api/v1/deals/"+f.a.deal, `{"status":"maybe"}`), http.StatusUnprocessableEntity, "validation", "status")

	var list struct {
		Data []store.Pipeline `json:"data"`
	}
	mustDecode(t, f.ts.api(t, f.a.key, "GET", "/api/v1/pipelines", "").body, &list)
	if len(list.Data) != 2 || len(list.Data[1].Stages) != 5 {
		t.Fatalf("pipelines %+v", list.Data)
	}
	wantAPIError(t, "delete a pipeline with deals", f.ts.api(t, f.a.key, "DELETE", "/api/v1/pipelines/"+f.a.pipeline, ""), http.StatusConflict, "conflict", "")
}

func TestAPI_Export(t *testing.T) {
	f := newAPIFixture(t)
	resp := f.ts.api(t, f.a.readKey, "GET", "/api/v1/export", "")
	wantStatus(t, "export", resp, http.StatusOK)
	zr, err := zip.NewReader(strings.NewReader(resp.body), int64(len(resp.body)))
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range zr.File {
		if zf.Name == "data/contacts.json" {
			rc, _ := zf.Open()
			b := make([]byte, 4096)
			n, _ := rc.Read(b)
			rc.Close()
			if !strings.Contains(string(b[:n]), "Acmeword") || strings.Contains(string(b[:n]), "Globexword") {
				t.Fatalf("contacts.json of A: %s", b[:n])
			}
		}
	}
	if strings.Contains(resp.body, "Globexword") {
		t.Fatal("A's export contains B's data")
	}

	// The lease, open since the first request, carries no copy of the
	// name: after a rename the manifest says the new one, as
	// /api/v1/workspace does.
	if err := store.RenameWorkspace(t.Context(), f.ts.tenants.Catalog(), f.a.id, "Acme Renamed"); err != nil {
		t.Fatal(err)
	}
	resp = f.ts.api(t, f.a.readKey, "GET", "/api/v1/export", "")
	zr, err = zip.NewReader(strings.NewReader(resp.body), int64(len(resp.body)))
	if err != nil {
		t.Fatal(err)
	}
	mf, err := zr.Open("manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	var manifest struct {
		Workspace struct{ Name string } `json:"workspace"`
	}
	if err := json.NewDecoder(mf).Decode(&manifest); err != nil || manifest.Workspace.Name != "Acme Renamed" {
		t.Fatalf("manifest after a rename: %+v, %v", manifest, err)
	}
}
