package tenant

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"unicode/utf8"

	"filippo.io/age"

	"atrium/store"
)

// An export may be protected with a passphrase: the archive is then an
// age file (https://age-encryption.org, scrypt recipient) holding the zip,
// readable with `age -d` as well as by atrium workspace import.

// MinPassphraseLength is the shortest passphrase an export takes.
const MinPassphraseLength = 8

// ageMagic starts every age file.
const ageMagic = "age-encryption.org/v1\n"

// exportScryptWorkFactor is age's default (2^18, about a second); tests
// lower it.
var exportScryptWorkFactor = 18

// CheckPassphrase refuses a passphrase too short to protect an export.
func CheckPassphrase(p string) error {
	if utf8.RuneCountInString(p) < MinPassphraseLength {
		return store.FieldError("passphrase", "A passphrase must be at least %d characters long.", MinPassphraseLength)
	}
	return nil
}

// isProtected reports whether the file at path is a passphrase-protected
// export.
func isProtected(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, store.Errorf(store.EInvalid, "%s cannot be read: %v.", path, unwrapPathError(err))
	}
	defer f.Close()
	head := make([]byte, len(ageMagic))
	n, _ := io.ReadFull(f, head)
	return bytes.Equal(head[:n], []byte(ageMagic)), nil
}

// errPassphraseNeeded and errWrongPassphrase are the import's answers to
// a protected archive without its passphrase.
var (
	errPassphraseNeeded = store.FieldError("passphrase", "This export is protected with a passphrase; enter it to import it.")
	errWrongPassphrase  = store.FieldError("passphrase", "The passphrase is wrong: this export cannot be opened with it.")
)

// decryptExport writes the archive inside the protected export at src
// into dir and returns its path; at most max bytes.
func decryptExport(src, dir, passphrase string, max int64) (string, error) {
	if passphrase == "" {
		return "", errPassphraseNeeded
	}
	id, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		return "", err
	}
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	r, err := age.Decrypt(bufio.NewReaderSize(in, 1<<16), id)
	var noMatch *age.NoIdentityMatchError
	if errors.As(err, &noMatch) {
		return "", errWrongPassphrase
	}
	if err != nil {
		return "", store.Errorf(store.EInvalid, "This protected export cannot be read: %v.", err)
	}
	path := filepath.Join(dir, "archive.zip")
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	n, err := io.Copy(out, io.LimitReader(r, max+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// age authenticates each chunk: a changed byte ends here.
		return "", store.Errorf(store.EInvalid, "This protected export is damaged: %v.", err)
	}
	if n > max {
		return "", store.ErrImportTooLarge()
	}
	return path, nil
}
