package tenant

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"atrium/store"
)

// DefaultPublicURL is the instance's address when none is configured:
// the default listen address.
const DefaultPublicURL = "http://127.0.0.1:8080"

// ParsePublicURL checks an instance address given by an operator: an
// absolute http or https URL, with a host, perhaps a path, and nothing
// after it. It returns it without a trailing slash.
func ParsePublicURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q is not the address of this instance, such as https://crm.example.com", s)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// PublicURL is the instance's address as people reach it, without a
// trailing slash: links in emails start with it.
func (m *Manager) PublicURL() string { return m.publicURL }

// An unsubscribe token names a workspace, a contact and the address an
// email went to, and is sealed (AES-256-GCM) with that workspace's data
// key, bound to the workspace's id:
//
//	base64url( version 1 | workspace id (16 bytes) | nonce | sealed(contact id (16 bytes) | email) )
//
// Sealed rather than only signed, so the address does not travel readable
// in a URL (proxies' and servers' logs). Only the workspace's key opens
// it: a token changed in any byte, or whose workspace id is changed to
// another's, does not open, so it cannot name another workspace's contact.
// The key is in the catalog, not the workspace file: a token is checked
// before any file is opened, a restore in place keeps the links of sent
// emails working, a workspace imported or restored as new (another id, a
// new key) is not reachable through the old workspace's links, and
// deleting the workspace (its key) ends them.
const unsubscribeTokenVersion = 1

// UnsubscribeClaim is what a valid unsubscribe token says.
type UnsubscribeClaim struct {
	WorkspaceID string
	ContactID   string // "" when the email went to no contact
	Email       string
}

// errBadToken is every failure to read a token: which check failed says
// nothing to whoever tries tokens.
var errBadToken = store.Errorf(store.ENotFound, "This unsubscribe link is not valid.")

func unsubscribeAAD(workspaceID string) []byte { return []byte("atrium unsubscribe\x00" + workspaceID) }

// UnsubscribeToken makes the token of an unsubscribe link for an email to
// address email, sent to contactID ("" for none), from this workspace.
func (s *Service) UnsubscribeToken(ctx context.Context, contactID, email string) (string, error) {
	email, err := store.SuppressionEmail(email)
	if err != nil {
		return "", err
	}
	ws, err := uuid.Parse(s.lease.ID)
	if err != nil {
		return "", err
	}
	var contact uuid.UUID // zero for none
	if contactID != "" {
		if contact, err = uuid.Parse(contactID); err != nil {
			return "", store.Errorf(store.EInvalid, "%q is not a contact id.", contactID)
		}
	}
	k, err := s.m.dataKey(ctx, s.lease.ID, true)
	if err != nil {
		return "", err
	}
	sealed := k.seal(append(contact[:], email...), unsubscribeAAD(s.lease.ID))
	b := append([]byte{unsubscribeTokenVersion}, ws[:]...)
	return base64.RawURLEncoding.EncodeToString(append(b, sealed...)), nil
}

// UnsubscribeURL is the link an email carries to unsubscribe its
// recipient: the instance's public URL and /u/<token>.
func (s *Service) UnsubscribeURL(ctx context.Context, contactID, email string) (string, error) {
	token, err := s.UnsubscribeToken(ctx, contactID, email)
	if err != nil {
		return "", err
	}
	return s.m.publicURL + "/u/" + token, nil
}

// ParseUnsubscribeToken checks a token against the data key of the
// workspace it names and returns what it says; any token not made by
// UnsubscribeToken of a workspace that still has its key is not found.
// It reads only the catalog: a forged token opens no workspace file.
func (m *Manager) ParseUnsubscribeToken(ctx context.Context, token string) (*UnsubscribeClaim, error) {
	// Strict: a last character differing only in its unused bits is
	// another token, not the same one.
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) < 1+16 || b[0] != unsubscribeTokenVersion {
		return nil, errBadToken
	}
	ws, err := uuid.FromBytes(b[1:17])
	if err != nil {
		return nil, errBadToken
	}
	wsID := ws.String()
	k, err := m.existingDataKey(ctx, wsID)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return nil, errBadToken
	}
	plain, err := k.open(b[17:], unsubscribeAAD(wsID))
	if err != nil || len(plain) < 16 {
		return nil, errBadToken
	}
	c := &UnsubscribeClaim{WorkspaceID: wsID, Email: string(plain[16:])}
	if !bytes.Equal(plain[:16], make([]byte, 16)) {
		contact, _ := uuid.FromBytes(plain[:16])
		c.ContactID = contact.String()
	}
	return c, nil
}

// existingDataKey is the keyring of a workspace's data key, or nil when
// it has none (never made, or deleted with the workspace) or this master
// key cannot unwrap it. Unlike dataKey it never makes one.
func (m *Manager) existingDataKey(ctx context.Context, workspaceID string) (*keyring, error) {
	wrapped, ok, err := store.WrappedWorkspaceKey(ctx, m.catalog.R, workspaceID)
	if err != nil || !ok {
		return nil, err
	}
	key, err := m.master.open(wrapped, wrapAAD(workspaceID))
	if err != nil {
		return nil, nil
	}
	return newKeyring(key)
}

// Unsubscribe carries out a checked unsubscribe claim of this workspace:
// the address is suppressed as unsubscribed and its enrolments stop,
// once (see store.Unsubscribe). ip is where the request came from, for
// the audit log.
func (s *Service) Unsubscribe(ctx context.Context, c *UnsubscribeClaim, ip string) (added bool, err error) {
	if c == nil || c.WorkspaceID != s.lease.ID {
		return false, errBadToken
	}
	return store.Unsubscribe(ctx, s.lease.DB, store.Actor{Kind: "system", ID: "unsubscribe", IP: ip}, c.ContactID, c.Email)
}

// Suppressed returns, of emails, those this workspace must not email,
// each (lower-cased) with its reason: on the workspace's own list or on
// the instance-wide one (the workspace's reason first). Enrolment,
// sending and imports ask here, so neither list can be forgotten.
func (s *Service) Suppressed(ctx context.Context, emails []string) (map[string]string, error) {
	found, err := store.SuppressedAmong(ctx, s.lease.DB.R, emails)
	if err != nil {
		return nil, err
	}
	instance, err := store.InstanceSuppressedAmong(ctx, s.m.catalog.R, emails)
	if err != nil {
		return nil, err
	}
	for e, reason := range instance {
		if _, ok := found[e]; !ok {
			found[e] = reason
		}
	}
	return found, nil
}
