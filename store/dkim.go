package store

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"regexp"
	"strings"
)

// DKIM key kinds a mailbox's key can be generated as.
const (
	DKIMEd25519 = "ed25519"
	DKIMRSA     = "rsa"
)

// Limits of a mailbox's DKIM settings. RSA keys below 2048 bits are
// refused, not merely warned about: 1024-bit keys are within reach of a
// determined attacker, the large providers ask for 2048, and Atrium
// generates one for whoever has none. Above 4096 bits every signature
// costs too much and the record no longer fits most DNS providers' forms.
const (
	minDKIMRSABits  = 2048
	maxDKIMRSABits  = 4096
	maxDKIMSelector = 63
	maxDKIMKeyPEM   = 8192
	// DefaultDKIMSelector is the selector of a generated key when none
	// was given.
	DefaultDKIMSelector = "atrium"
)

// MailboxDKIMPurpose is where a mailbox's sealed DKIM private key belongs.
func MailboxDKIMPurpose(mailboxID string) string { return "mailbox:" + mailboxID + ":dkim" }

// dkimSelectorRE is one or more DNS labels (RFC 6376 3.1).
var dkimSelectorRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// ParseDKIMKey reads a DKIM private key in PEM: PKCS#8 (RSA or Ed25519)
// or PKCS#1 (RSA). An RSA key must have 2048 to 4096 bits. The error is a
// field error on dkim_private_key that says what is wrong.
func ParseDKIMKey(pemText string) (crypto.Signer, error) {
	bad := func(format string, args ...any) (crypto.Signer, error) {
		return nil, FieldError("dkim_private_key", format, args...)
	}
	if len(pemText) > maxDKIMKeyPEM {
		return bad("The private key is too long; paste one key of at most %d characters.", maxDKIMKeyPEM)
	}
	block, _ := pem.Decode([]byte(strings.TrimSpace(pemText)))
	if block == nil {
		return bad("The private key is not in PEM form: paste it whole, from -----BEGIN PRIVATE KEY----- to -----END PRIVATE KEY-----.")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return bad("A %q block is not a private key this can sign with: give an RSA or Ed25519 private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY).", block.Type)
	}
	if err != nil {
		return bad("The private key cannot be read (%s): give an unencrypted RSA or Ed25519 private key.", strings.TrimPrefix(err.Error(), "x509: "))
	}
	switch k := key.(type) {
	case ed25519.PrivateKey:
		return k, nil
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < minDKIMRSABits || bits > maxDKIMRSABits {
			return bad("This RSA key has %d bits; DKIM keys need %d to %d (generate a new one if yours is shorter).", bits, minDKIMRSABits, maxDKIMRSABits)
		}
		return k, nil
	}
	return bad("Only RSA and Ed25519 keys can sign DKIM; this is a %T.", key)
}

// GenerateDKIMKey makes a new private key of the kind (DKIMEd25519 or
// DKIMRSA, 2048 bits), in PEM (PKCS#8).
func GenerateDKIMKey(kind string) (string, error) {
	var key crypto.Signer
	var err error
	switch kind {
	case DKIMEd25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case DKIMRSA:
		key, err = rsa.GenerateKey(rand.Reader, minDKIMRSABits)
	default:
		return "", FieldError("dkim_generate", "The key to generate is %s or %s.", DKIMEd25519, DKIMRSA)
	}
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// DKIMRecordOf is the TXT record that publishes key's public half
// (RFC 6376 3.6.1, RFC 8463 for Ed25519).
func DKIMRecordOf(key crypto.Signer) string {
	switch pub := key.Public().(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	case *rsa.PublicKey:
		der, _ := x509.MarshalPKIXPublicKey(pub)
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	}
	return ""
}

// DKIMDomain is the signing domain of a mailbox: its from address's.
func (m *Mailbox) DKIMDomain() string {
	_, domain, _ := strings.Cut(m.FromEmail, "@")
	return strings.ToLower(domain)
}

// DKIMRecordName is where the mailbox's DKIM record is published:
// <selector>._domainkey.<domain>; "" without a selector.
func (m *Mailbox) DKIMRecordName() string {
	if m.DKIMSelector == "" {
		return ""
	}
	return m.DKIMSelector + "._domainkey." + m.DKIMDomain()
}

// applyDKIM validates the DKIM part of in and applies it to m, sealing a
// new key. An empty selector turns signing off and forgets the key; a
// selector needs a key, given, generated or already there.
func applyDKIM(m *Mailbox, in MailboxInput, seal SealFunc) error {
	if in.DKIMSelector != nil {
		m.DKIMSelector = strings.ToLower(strings.TrimSpace(*in.DKIMSelector))
	}
	pemText := ""
	if in.DKIMKey != nil {
		pemText = strings.TrimSpace(*in.DKIMKey)
	}
	if gen := derefString(in.DKIMGenerate); gen != "" {
		if pemText != "" {
			return FieldError("dkim_generate", "Paste a private key or generate one, not both.")
		}
		var err error
		if pemText, err = GenerateDKIMKey(gen); err != nil {
			return err
		}
		if m.DKIMSelector == "" {
			m.DKIMSelector = DefaultDKIMSelector
		}
	}
	if m.DKIMSelector == "" {
		if pemText != "" {
			return FieldError("dkim_selector", "Give the selector the key is published under, such as %s.", DefaultDKIMSelector)
		}
		m.DKIMKey, m.DKIMRecord = "", ""
		return nil
	}
	if len(m.DKIMSelector) > maxDKIMSelector || !dkimSelectorRE.MatchString(m.DKIMSelector) {
		return FieldError("dkim_selector", "A selector is a DNS name of letters, digits and hyphens, such as %s or s2024.", DefaultDKIMSelector)
	}
	if pemText == "" {
		if m.DKIMKey == "" {
			return FieldError("dkim_private_key", "Paste the private key for this selector, or generate one.")
		}
		return nil
	}
	key, err := ParseDKIMKey(pemText)
	if err != nil {
		return err
	}
	sealed, err := seal(MailboxDKIMPurpose(m.ID), pemText)
	if err != nil {
		return err
	}
	m.DKIMKey, m.DKIMRecord = sealed, DKIMRecordOf(key)
	return nil
}

func derefString(p *string) string {
	if p == nil {
		return ""
	}
	return strings.TrimSpace(*p)
}
