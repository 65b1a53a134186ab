package handlers

import (
	"net/http"
	"strings"
	"testing"
)

func TestAPI_Templates(t *testing.T) {
	f := newAPIFixture(t)
	key := f.a.key
	t.Run("ErrBadTemplate", func(t *testing.T) {
		r := f.ts.api(t, key, "POST", "/api/v1/templates", `{"name":"Bad","subject":"Hi","body":"<p>Hello</p>\n<p>{{frist_name}}</p>"}`)
		wantAPIError(t, "unknown field", r, http.StatusUnprocessableEntity, "validation", "body")
		if !strings.Contains(r.body, `Line 2, column 6: \"frist_name\" is not a field`) {
			t.Errorf("the error does not name the position: %s", r.body)
		}
		r = f.ts.api(t, key, "POST", "/api/v1/templates", `{"name":"Bad","subject":"Hi {{custom.x}}","body":"x"}`)
		wantAPIError(t, "unknown custom field", r, http.StatusUnprocessableEntity, "validation", "subject")
		r = f.ts.api(t, key, "POST", "/api/v1/templates", `{"name":"Acmeword intro","subject":"Hi","body":"x"}`)
		wantAPIError(t, "same name", r, http.StatusConflict, "conflict", "name")
	})
	t.Run("CreatePatchDelete", func(t *testing.T) {
		id := f.ts.mustCreate(t, key, "/api/v1/templates", `{"name":"Follow-up","subject":"Hi {{first_name | \"there\"}}","body":"Hello {{company}}"}`)
		r := f.ts.api(t, key, "PATCH", "/api/v1/templates/"+id, `{"body":"Hello again {{company}}","version":1}`)
		var got struct {
			Subject, Body string
			Version       int
		}
		if mustDecode(t, r.body, &got); r.status != http.StatusOK || got.Version != 2 || got.Subject != `Hi {{first_name | "there"}}` {
			t.Fatalf("patch: %d %s", r.status, r.body)
		}
		r = f.ts.api(t, key, "PATCH", "/api/v1/templates/"+id, `{"subject":"Lost","version":1}`)
		wantAPIError(t, "stale version", r, http.StatusConflict, "conflict", "")
		wantStatus(t, "delete", f.ts.api(t, key, "DELETE", "/api/v1/templates/"+id, ""), http.StatusNoContent)
		wantAPIError(t, "deleted", f.ts.api(t, key, "GET", "/api/v1/templates/"+id, ""), http.StatusNotFound, "not_found", "")
	})
	t.Run("Pagination", func(t *testing.T) {
		for _, n := range []string{"c", "a", "b", "e", "d"} {
			f.ts.mustCreate(t, key, "/api/v1/templates", `{"name":"Page `+n+`","subject":"Hi","body":"x"}`)
		}
		var names []string
		cursor := ""
		for pages := 0; pages < 10; pages++ {
			var page struct {
				Data       []struct{ Name string }
				NextCursor string `json:"next_cursor"`
			}
			mustDecode(t, f.ts.api(t, key, "GET", "/api/v1/templates?limit=2&cursor="+cursor, "").body, &page)
			for _, d := range page.Data {
				names = append(names, d.Name)
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if got := strings.Join(names, ","); got != "Acmeword intro,Page a,Page b,Page c,Page d,Page e" {
			t.Fatalf("pages: %s", got)
		}
	})
	t.Run("Preview", func(t *testing.T) {
		id := f.ts.mustCreate(t, key, "/api/v1/templates", `{"name":"Preview","subject":"Hi {{first_name}}","body":"<p>{{company | \"you\"}} &amp; <a href=\"https://x.example\">us</a></p>"}`)
		r := f.ts.api(t, key, "POST", "/api/v1/templates/"+id+"/preview", `{"contact_id":"`+f.a.contact+`"}`)
		var m struct{ Subject, HTML, Text string }
		if mustDecode(t, r.body, &m); r.status != http.StatusOK || m.Subject != "Hi Acmeword" ||
			m.HTML != `<p>Acmeword Inc &amp; <a href="https://x.example" rel="nofollow">us</a></p>` || m.Text != "Acmeword Inc & us (https://x.example)" {
			t.Fatalf("preview: %d %s", r.status, r.body)
		}
		r = f.ts.api(t, key, "POST", "/api/v1/templates/"+id+"/preview", `{"contact_id":"`+f.b.contact+`"}`)
		wantAPIError(t, "B's contact", r, http.StatusNotFound, "not_found", "")
		r = f.ts.api(t, key, "POST", "/api/v1/templates/"+f.b.template+"/preview", `{"contact_id":"`+f.a.contact+`"}`)
		wantAPIError(t, "B's template", r, http.StatusNotFound, "not_found", "")
		r = f.ts.api(t, key, "POST", "/api/v1/templates/"+id+"/preview", `{}`)
		wantAPIError(t, "no contact", r, http.StatusUnprocessableEntity, "validation", "contact_id")
		r = f.ts.api(t, f.a.readKey, "POST", "/api/v1/templates/"+id+"/preview", `{"contact_id":"`+f.a.contact+`"}`)
		wantAPIError(t, "read key", r, http.StatusForbidden, "forbidden", "")
	})
}
