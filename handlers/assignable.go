package handlers

import "atrium/store"

// assignable is the template function behind owner and assignee pickers:
// the members who can own or be assigned records (viewers cannot; see
// tenant.Service.checkMember), plus cur, the record's current one, when a
// viewer holds it still, so an edit form shows it and keeps it.
func assignable(members []store.Member, cur ...string) []store.Member {
	out := make([]store.Member, 0, len(members))
	for _, m := range members {
		if m.Role != "viewer" || (len(cur) > 0 && cur[0] != "" && m.UserID == cur[0]) {
			out = append(out, m)
		}
	}
	return out
}

func init() { templateFuncs["assignable"] = assignable }
