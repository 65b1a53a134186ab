package handlers

import "testing"

func TestWorkspaceURL(t *testing.T) {
	const ws = "01a22b71-9378-7776-a0e3-0a8623ab4bf0"
	for _, tc := range []struct{ got, want string }{
		{workspaceURL(ws), "/w/" + ws + "/"},
		{workspaceURL(ws, "settings", "api-keys"), "/w/" + ws + "/settings/api-keys"},
		{contactURL(ws, "c1", "edit"), "/w/" + ws + "/contacts/c1/edit"},
		{companyURL(ws, "c2"), "/w/" + ws + "/companies/c2"},
		{dealURL(ws, "d1", "delete"), "/w/" + ws + "/deals/d1/delete"},
		{pipelineDealsURL(ws, "p 1"), "/w/" + ws + "/deals?pipeline=p+1"},
		// A part is one segment: a slash or a dot-dot cannot climb out of it.
		{workspaceURL(ws, "contacts", "../settings"), "/w/" + ws + "/contacts/..%2Fsettings"},
		{workspaceURL("a/b?c", "x y"), "/w/a%2Fb%3Fc/x%20y"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
