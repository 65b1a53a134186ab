package outreach

import (
	"mime"
	"net/textproto"
	"regexp"
	"strings"
)

// Bounce is what a delivery status notification (RFC 3464) says of the
// recipient it failed or delayed for.
type Bounce struct {
	Recipient  string // lower-cased address (Final-Recipient, else Original-Recipient)
	Action     string // failed or delayed
	Status     string // the enhanced status code, "5.1.1"
	Diagnostic string // the remote server's words, when given
	// OriginalMessageID is the Message-ID of the message that bounced
	// (from the returned message or its headers, or the reporter's
	// X-Original-Message-ID), without angle brackets; "" when none came.
	OriginalMessageID string
}

// Hard says the address is refused for good (5.x.x); a soft bounce
// (4.x.x) may pass another time.
func (b *Bounce) Hard() bool { return strings.HasPrefix(b.Status, "5") }

var statusRE = regexp.MustCompile(`\b([245])\.(\d{1,3})\.(\d{1,3})\b`)

// parseDSN reads a multipart/report; report-type=delivery-status message:
// the first recipient it failed or delayed for, and the message it
// returns. nil for any other message, or a report that says the message
// was delivered.
func parseDSN(h textproto.MIMEHeader, body []byte) *Bounce {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || !strings.EqualFold(params["report-type"], "delivery-status") {
		return nil
	}
	var b *Bounce
	var perMessage textproto.MIMEHeader
	original := ""
	walkParts(h, body, func(p part) bool {
		switch p.mediaType {
		case "message/delivery-status", "message/global-delivery-status":
			blocks := readHeaderBlocks(p.body)
			if len(blocks) > 0 {
				perMessage = blocks[0]
			}
			if b == nil && len(blocks) > 1 {
				b = firstBounce(blocks[1:])
			}
		case "message/rfc822", "text/rfc822-headers", "message/rfc822-headers", "message/global", "message/global-headers":
			if blocks := readHeaderBlocks(p.body); len(blocks) > 0 && original == "" {
				original = firstID(blocks[0].Get("Message-Id"))
			}
		}
		return true
	})
	if b == nil {
		return nil
	}
	b.OriginalMessageID = original
	if b.OriginalMessageID == "" && perMessage != nil {
		b.OriginalMessageID = firstID(perMessage.Get("X-Original-Message-Id"))
	}
	return b
}

// firstBounce is the first per-recipient block that failed or was
// delayed.
func firstBounce(recipients []textproto.MIMEHeader) *Bounce {
	for _, r := range recipients {
		action := strings.ToLower(strings.TrimSpace(r.Get("Action")))
		diag := strings.TrimSpace(typedValue(r.Get("Diagnostic-Code")))
		status := statusRE.FindString(r.Get("Status"))
		if status == "" {
			status = statusRE.FindString(diag)
		}
		switch {
		case action != "failed" && action != "delayed" && action != "":
			continue // delivered, relayed, expanded
		case status == "" || status[0] == '2':
			continue
		}
		addr := typedValue(r.Get("Final-Recipient"))
		if addr == "" {
			addr = typedValue(r.Get("Original-Recipient"))
		}
		if action == "" {
			action = map[bool]string{true: "failed", false: "delayed"}[status[0] == '5']
		}
		return &Bounce{Recipient: strings.ToLower(strings.Trim(addr, "<> ")), Action: action, Status: status,
			Diagnostic: strings.Join(strings.Fields(diag), " ")}
	}
	return nil
}

// typedValue is the value of a field of the form "type; value" (rfc822;
// anna@example.com, smtp; 550 …).
func typedValue(v string) string {
	if _, after, ok := strings.Cut(v, ";"); ok {
		return strings.TrimSpace(after)
	}
	return strings.TrimSpace(v)
}
