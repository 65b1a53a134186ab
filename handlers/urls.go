package handlers

import (
	"net/url"
	"strings"
)

// workspaceURL is the path of a page of workspace id: "/w/<id>/" (its
// home) with no parts, else "/w/<id>/<part>/<part>…". Each part is one
// path segment, escaped, so no id or name can reach another segment.
// Every workspace URL of handlers and templates (the wsURL template
// function is this one) is built here; a query string is added by the
// caller, escaped with url.QueryEscape or by html/template.
func workspaceURL(id string, parts ...string) string {
	var b strings.Builder
	b.WriteString("/w/")
	b.WriteString(url.PathEscape(id))
	b.WriteByte('/')
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(url.PathEscape(p))
	}
	return b.String()
}

// contactURL is the page of a contact, or one of its sub-pages ("edit").
func contactURL(workspaceID, id string, parts ...string) string {
	return workspaceURL(workspaceID, append([]string{"contacts", id}, parts...)...)
}

// companyURL is the page of a company, or one of its sub-pages.
func companyURL(workspaceID, id string, parts ...string) string {
	return workspaceURL(workspaceID, append([]string{"companies", id}, parts...)...)
}

// dealURL is the page of a deal, or one of its sub-pages.
func dealURL(workspaceID, id string, parts ...string) string {
	return workspaceURL(workspaceID, append([]string{"deals", id}, parts...)...)
}

// pipelineDealsURL is the deals board of one pipeline.
func pipelineDealsURL(workspaceID, pipelineID string) string {
	return workspaceURL(workspaceID, "deals") + "?pipeline=" + url.QueryEscape(pipelineID)
}
