package outreach

// UnsubscribeHeaders are the header fields that let a recipient's mail
// program unsubscribe them: List-Unsubscribe (RFC 2369) with the link, and
// List-Unsubscribe-Post (RFC 8058), which says a POST of
// "List-Unsubscribe=One-Click" to that link unsubscribes without a page
// (what Gmail and Yahoo ask of bulk senders). url is the https (or the
// instance's) unsubscribe link, tenant.Service.UnsubscribeURL; both fields
// must be signed by DKIM when the message is.
func UnsubscribeHeaders(url string) [][2]string {
	return [][2]string{
		{"List-Unsubscribe", "<" + url + ">"},
		{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
	}
}

// UnsubscribeFooter is the visible unsubscribe link that ends a message's
// plain-text part.
func UnsubscribeFooter(url string) string {
	return "\n\n-- \nTo stop receiving these emails, unsubscribe here: " + url + "\n"
}
