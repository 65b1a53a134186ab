package outreach

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/emersion/go-msgauth/dkim"

	"atrium/store"
)

// dkimHeaderKeys are the header fields a signature covers. From is named
// twice (oversigned): a second From added on the way then breaks the
// signature instead of being shown to the reader. The unsubscribe fields
// are covered so nobody on the way can point them elsewhere (RFC 8058 5).
// A field the message lacks (Reply-To) is signed as absent.
var dkimHeaderKeys = []string{"From", "From", "To", "Subject", "Date", "Message-ID", "Reply-To",
	"MIME-Version", "Content-Type", "List-Unsubscribe", "List-Unsubscribe-Post"}

// DKIMOptions are the signing options of mailbox mb with its unsealed
// private key (PEM): the from address's domain, the mailbox's selector,
// relaxed canonicalisation (survives the folding and whitespace changes
// of relays).
func DKIMOptions(mb *store.Mailbox, keyPEM string) (*dkim.SignOptions, error) {
	if mb.DKIMSelector == "" || mb.DKIMDomain() == "" {
		return nil, errors.New("the mailbox has no DKIM selector or sending domain")
	}
	key, err := store.ParseDKIMKey(keyPEM)
	if err != nil {
		return nil, err
	}
	return &dkim.SignOptions{
		Domain: mb.DKIMDomain(), Selector: mb.DKIMSelector, Signer: key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: dkimHeaderKeys,
	}, nil
}

// Sign puts a DKIM-Signature field in front of the message as sent (the
// bytes of Message.Bytes). Without options it returns the message as is.
func Sign(message []byte, opts *dkim.SignOptions) ([]byte, error) {
	if opts == nil {
		return message, nil
	}
	var out bytes.Buffer
	if err := dkim.Sign(&out, bytes.NewReader(message), opts); err != nil {
		return nil, fmt.Errorf("cannot sign the message with DKIM: %w", err)
	}
	return out.Bytes(), nil
}
