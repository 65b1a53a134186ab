package handlers

import (
	"net/http"
	"net/netip"
	"net/url"

	"github.com/gorilla/mux"

	"atrium/store"
)

// The tracking endpoints: public, no session, no CSRF (mail programs and
// their proxies fetch them), and they never say which workspace a token
// names. See tenant/tracking.go for the tokens.

// pixelGIF is a 1×1 transparent GIF.
var pixelGIF = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

// noStore keeps proxies and mail programs from answering a second fetch
// from their cache: each fetch should reach us.
func noStore(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0, private")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "0")
}

// trackOpen is GET /t/o/{token}: the pixel, always the same answer,
// whether the token is valid or not (no oracle); a valid one records an
// open. Only GET: a HEAD is a link checker's, not a reader's.
func (s *Server) trackOpen(w http.ResponseWriter, r *http.Request) {
	err := s.tenants.TrackOpen(r.Context(), mux.Vars(r)["token"], r.UserAgent(), s.trackingClient(r))
	if err != nil && store.ErrorCode(err) != store.ENotFound {
		s.log.Error("an open was not recorded", "err", err)
	}
	noStore(w)
	w.Header().Set("Content-Type", "image/gif")
	w.WriteHeader(http.StatusOK)
	w.Write(pixelGIF)
}

// trackClick is GET /t/c/{token}: it records a click and redirects to the
// link the token's message had at its index; a token that is not valid
// is a 404 page that names nothing.
func (s *Server) trackClick(w http.ResponseWriter, r *http.Request) {
	link, err := s.tenants.TrackClick(r.Context(), mux.Vars(r)["token"], r.UserAgent(), s.trackingClient(r))
	if err == nil || (link != "" && store.ErrorCode(err) == store.EUnavailable) {
		if err != nil {
			s.log.Warn("a click was not recorded", "err", err)
		}
		s.redirectOut(w, r, link)
		return
	}
	if store.ErrorCode(err) == store.ENotFound || store.ErrorCode(err) == store.EInvalid {
		noStore(w)
		s.renderError(w, r, http.StatusNotFound, "This link is not valid. It may come from an email of an account that no longer exists.")
		return
	}
	s.fail(w, r, err)
}

// redirectOut sends the reader to a recorded link. The links were http(s)
// when the message was sent; one that is not (an imported file) is not
// followed.
func (s *Server) redirectOut(w http.ResponseWriter, r *http.Request, link string) {
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		s.renderError(w, r, http.StatusNotFound, "This link is not valid.")
		return
	}
	noStore(w)
	w.Header().Set("Location", link)
	w.WriteHeader(http.StatusFound)
}

// trackingClient is the request's client address, for telling a mail
// proxy from a reader; the zero address when it cannot be read.
func (s *Server) trackingClient(r *http.Request) netip.Addr {
	ip, _ := netip.ParseAddr(s.clientIP(r))
	return ip
}
