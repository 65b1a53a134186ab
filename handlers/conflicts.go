package handlers

import (
	"net/url"
	"sort"
	"strconv"
	"strings"

	"atrium/store"
)

// Edit forms carry the version of the record they were loaded from (a
// hidden "version" input); the store writes only if the record is still at
// it. When someone else saved in between, the form comes back with 409:
// the values sent still in the inputs, the other person's values as text
// under each field where they differ, the message and a link to discard
// in the alert region, and the current version in the hidden input, so
// that sending the form again ("Save mine anyway") applies it over theirs.

// formExpect reads the version an edit form was loaded at. A form without
// one (an older page, a script) writes whatever the version, as before.
func formExpect(f *form) (store.Expect, error) {
	v := f.Get("version")
	if v == "" {
		return store.Expect{}, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return store.Expect{}, store.Errorf(store.EInvalid, "The form was damaged on its way; load it again.")
	}
	return store.Expect{Version: &n}, nil
}

// showTheirs prepares f to be shown again after a stale write of a what:
// theirs are the form values of the record as it is now, at version;
// show writes one of them as text (a member's name for an id); discard is
// where to go to drop the values sent.
func (f *form) showTheirs(what string, theirs url.Values, version int64, discard string, show func(name, value string) string) {
	for name := range theirs {
		if name == "version" || sameFormValue(name, f.Get(name), strings.TrimSpace(theirs.Get(name))) {
			continue
		}
		text := show(name, theirs.Get(name))
		if strings.TrimSpace(text) == "" {
			text = "(empty)"
		}
		f.Theirs[name] = text
	}
	f.Values.Set("version", strconv.FormatInt(version, 10))
	f.Discard = discard
	msg := "Someone else changed this " + what + " while you were editing it."
	if len(f.Theirs) > 0 {
		msg += " Their values are shown under the fields marked \"Changed meanwhile\"; yours are still in the form."
	} else {
		msg += " Nothing you sent differs from what they saved."
	}
	f.Fail("", msg+" Choose \"Save mine anyway\" to replace theirs, or discard your changes.")
}

// sameFormValue compares a value sent with the current one as the form
// shows it: tags in any order and spacing are the same tags.
func sameFormValue(name, mine, theirs string) bool {
	if name == "tags" {
		return normalTags(mine) == normalTags(theirs)
	}
	return mine == theirs
}

func normalTags(s string) string {
	var tags []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
			tags = append(tags, t)
		}
	}
	sort.Strings(tags)
	return strings.Join(tags, ",")
}

// showMember writes owner and assignee ids as member names.
func showMember(members []store.Member) func(name, value string) string {
	return func(name, value string) string {
		if name == "owner_id" || name == "assignee_id" {
			if value == "" {
				return "Nobody"
			}
			if n := memberName(members, value); n != "" {
				return n
			}
		}
		return value
	}
}
