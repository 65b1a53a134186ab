package outreach

import (
	"context"
	"net/netip"
	"strings"

	"golang.org/x/net/html"

	"atrium/store"
)

// Open and click tracking rewrites the HTML part of a message: each http(s)
// link goes through the instance's click redirect, and a 1×1 image (the
// pixel) is added at the end. The plain-text part is left as it is: it
// shows the reader the real address, and those who read mail as text
// chose not to be watched; their clicks are not counted.

// MaxTrackedLinks bounds the links of one message that are tracked; the
// ones after are sent as they are.
const MaxTrackedLinks = 1000

// TrackHTML rewrites body for tracking. Link i (counting the rewritten
// ones, in document order) becomes click(i); links starting with own (the
// instance's own address: the unsubscribe link) are left alone, as are
// links that are not http(s) or longer than store.MaxTrackedURL. The
// pixel's address is appended in an image. It returns the new body and
// the original links, link i at index i. The same body gives the same
// result: a retry sends the same links.
func TrackHTML(body, own string, click func(i int) string, pixel string) (string, []string) {
	var out strings.Builder
	var links []string
	z := html.NewTokenizer(strings.NewReader(body))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		raw := z.Raw()
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			out.Write(raw)
			continue
		}
		tok := z.Token()
		i := hrefIndex(tok)
		if tok.Data != "a" || i < 0 || len(links) >= MaxTrackedLinks || !trackable(tok.Attr[i].Val, own) {
			out.Write(raw)
			continue
		}
		links = append(links, tok.Attr[i].Val)
		tok.Attr[i].Val = click(len(links) - 1)
		out.WriteString(tok.String())
	}
	return appendPixel(out.String(), pixel), links
}

// hrefIndex is the index of a tag's href attribute, or -1.
func hrefIndex(tok html.Token) int {
	for i, a := range tok.Attr {
		if a.Key == "href" && a.Namespace == "" {
			return i
		}
	}
	return -1
}

func trackable(link, own string) bool {
	lower := strings.ToLower(strings.TrimSpace(link))
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
		return false
	}
	return link == strings.TrimSpace(link) && len(link) <= store.MaxTrackedURL && !strings.HasPrefix(link, own+"/")
}

// appendPixel adds the pixel's image at the end of the body (before
// </body> when it has one).
func appendPixel(body, pixel string) string {
	img := `<img src="` + html.EscapeString(pixel) + `" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0">`
	if i := strings.LastIndex(strings.ToLower(body), "</body>"); i >= 0 {
		return body[:i] + img + body[i:]
	}
	return body + img
}

// Mail proxies that fetch images for the reader, whether or not a person
// opens the message.
var (
	// Apple Mail Privacy Protection fetches from Apple's own network with
	// a bare user agent.
	appleNetwork = netip.MustParsePrefix("17.0.0.0/8")
	proxyAgents  = []string{"GoogleImageProxy", "YahooMailProxy", "ggpht.com"}
)

// MachineFetch reports whether a tracking request shows a mail proxy or
// prefetcher rather than a person: Apple Mail Privacy Protection (Apple's
// network, or the bare "Mozilla/5.0" it sends), Google's image proxy,
// Yahoo's. Its event is kept, marked prefetch.
func MachineFetch(userAgent string, ip netip.Addr) bool {
	if appleNetwork.Contains(ip.Unmap()) || strings.TrimSpace(userAgent) == "Mozilla/5.0" {
		return true
	}
	for _, a := range proxyAgents {
		if strings.Contains(userAgent, a) {
			return true
		}
	}
	return false
}

// track rewrites a claimed message for tracking when its sequence has it
// on. It comes after the claim: the tokens name the ledger row, which a
// retry keeps, so every try sends the same links.
func (r *pass) track(ctx context.Context, msg *Message, m *store.Message) error {
	on, ok := r.tracking[m.SequenceID]
	if !ok {
		var err error
		if on, err = store.SequenceTracking(ctx, r.DB, m.SequenceID); err != nil {
			return err
		}
		r.tracking[m.SequenceID] = on
	}
	if !on {
		return nil
	}
	return r.Env.Track(ctx, msg, m.ID)
}
