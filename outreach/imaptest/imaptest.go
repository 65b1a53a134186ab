// Package imaptest helps tests run go-imap's in-memory IMAP server as a
// real server would behave.
package imaptest

import (
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// NewSession is a session of the in-memory server for user whose IDLE
// first sends what changed since the client's last command, as real
// servers do. imapmemserver answers "+ idling" before it starts to watch
// the folder and then waits for the next change, so a message appended
// in between would stay unannounced until another one came.
func NewSession(user *imapmemserver.User) imapserver.Session { return &session{user: user} }

// session is imapmemserver's own server session (which is unexported):
// the user's session once logged in, embedded so the server still finds
// the optional interfaces it implements (IMAP4rev2, MOVE, NAMESPACE…).
type session struct {
	*imapmemserver.UserSession // nil until Login
	user                       *imapmemserver.User
}

func (s *session) Login(username, password string) error {
	if err := s.user.Login(username, password); err != nil {
		return err
	}
	s.UserSession = imapmemserver.NewUserSession(s.user)
	return nil
}

func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if err := s.Poll(w, true); err != nil {
		return err
	}
	return s.UserSession.Idle(w, stop)
}
