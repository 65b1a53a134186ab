package handlers

import (
	"context"
	"crypto/rand"
	"net/http"

	"github.com/gorilla/sessions"

	"atrium/store"
)

const cookieName = "atrium"

// cookieKeys returns the instance's cookie signing and encryption keys,
// made once and kept in the catalog so sessions survive restarts.
func cookieKeys(ctx context.Context, catalog *store.Catalog) ([][]byte, error) {
	hashKey, err := store.Setting(ctx, catalog, "cookie_hash_key", func() []byte { return randomBytes(64) })
	if err != nil {
		return nil, err
	}
	blockKey, err := store.Setting(ctx, catalog, "cookie_block_key", func() []byte { return randomBytes(32) })
	if err != nil {
		return nil, err
	}
	return [][]byte{hashKey, blockKey}, nil
}

func newCookieStore(keys [][]byte) *sessions.CookieStore {
	cs := sessions.NewCookieStore(keys...)
	cs.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int(store.SessionLifetime.Seconds()),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	return cs
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func newSeed() []byte { return randomBytes(32) }

// saveCookie writes the cookie session; Secure when the request came over
// TLS (or through a trusted proxy that says so).
func (s *Server) saveCookie(w http.ResponseWriter, r *http.Request, c *sessions.Session) {
	opts := *s.cookies.Options
	opts.Secure = s.isHTTPS(r)
	c.Options = &opts
	if err := c.Save(r, w); err != nil {
		s.log.Error("save session cookie", "err", err)
	}
}

// signIn starts a server-side session for user and puts its token in a
// fresh cookie with a new CSRF seed, so nothing from before sign-in carries
// over.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, user *store.User) error {
	token, err := store.CreateSession(r.Context(), s.catalog, user.ID, s.clientIP(r), r.UserAgent())
	if err != nil {
		return err
	}
	a := authFrom(r)
	a.seed = newSeed()
	a.cookie.Values = map[any]any{"sid": token, "csrf": a.seed}
	s.saveCookie(w, r, a.cookie)
	return nil
}

// signOut ends the current session and clears the cookie.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	a := authFrom(r)
	if a.session != nil {
		if err := store.DeleteSession(r.Context(), s.catalog, a.session.ID); err != nil {
			s.log.Error("delete session", "err", err)
		}
	}
	a.cookie.Values = map[any]any{"csrf": newSeed()}
	s.saveCookie(w, r, a.cookie)
}

// flash queues a message for the next page shown; kind is "success" or "error".
func (s *Server) flash(w http.ResponseWriter, r *http.Request, kind, msg string) {
	a := authFrom(r)
	a.cookie.AddFlash(msg, kind)
	s.saveCookie(w, r, a.cookie)
}
