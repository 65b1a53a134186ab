package tenant

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// Encrypted replicas (a region's replica with encrypt: true). Every LTX
// object a workspace writes to the replica is encrypted with the
// workspace's current data key; object names stay as they are. An object
// is:
//
//	cover   100 bytes  an LTX header with only the magic, the TXID range
//	                   and the timestamp (the replica clients read the
//	                   timestamp from it, and point-in-time restore needs it)
//	header   32 bytes  "ATRE", version 1, 3 zero bytes, data key id
//	                   (uint32), chunk size (uint32), 16 random bytes (salt)
//	chunks             the LTX file in 64 KiB pieces, each sealed with
//	                   AES-256-GCM (16-byte tag): the last one may be
//	                   shorter (never empty unless the file is)
//
// The object's key is HKDF-SHA256(data key, salt, workspace id, level and
// object name): an object moved to another name or workspace does not
// open, and each object has its own key, so the nonce is the chunk index.
// Every chunk's additional data is the cover and header and whether it is
// the last chunk: a changed byte anywhere, a chunk dropped or moved, or a
// truncation fails authentication. Because the chunks have a fixed size,
// a read of a plaintext range (Litestream reads page indexes and resumes
// broken downloads that way) maps to a range of whole chunks.
const (
	encChunk      = 64 << 10
	encTag        = 16
	encCoverSize  = ltx.HeaderSize
	encHeaderSize = 32
	encHead       = encCoverSize + encHeaderSize
	encMagic      = "ATRE"
	encVersion    = 1
	encSaltSize   = 16
)

// ErrReplicaTampered is the error of an encrypted replica object that fails
// authentication: nothing of it is used.
var ErrReplicaTampered = errors.New("an encrypted replica object failed authentication: it was altered or damaged, or belongs to another workspace or key")

// cryptClient wraps a workspace's replica client: it encrypts what
// Litestream writes and decrypts what it reads, and reports plaintext
// sizes.
type cryptClient struct {
	inner     litestream.ReplicaClient
	workspace string
	keys      func(ctx context.Context) (*workspaceKeySet, error)
	// missingKey, when set, explains an object whose key id is not in the
	// key set (the catalog's: see replicacrypt_catalog.go).
	missingKey func(id uint32) error
}

func newCryptClient(inner litestream.ReplicaClient, workspace string, keys func(ctx context.Context) (*workspaceKeySet, error)) *cryptClient {
	return &cryptClient{inner: inner, workspace: workspace, keys: keys}
}

func (c *cryptClient) Type() string                   { return c.inner.Type() }
func (c *cryptClient) Init(ctx context.Context) error { return c.inner.Init(ctx) }
func (c *cryptClient) SetLogger(l *slog.Logger)       { c.inner.SetLogger(l) }
func (c *cryptClient) DeleteAll(ctx context.Context) error {
	return c.inner.DeleteAll(ctx)
}
func (c *cryptClient) DeleteLTXFiles(ctx context.Context, a []*ltx.FileInfo) error {
	return c.inner.DeleteLTXFiles(ctx, a)
}

func (c *cryptClient) LTXFiles(ctx context.Context, level int, seek ltx.TXID, useMetadata bool) (ltx.FileIterator, error) {
	it, err := c.inner.LTXFiles(ctx, level, seek, useMetadata)
	if err != nil {
		return nil, err
	}
	return &plainSizeIterator{FileIterator: it}, nil
}

// plainSizeIterator reports each object's plaintext size.
type plainSizeIterator struct{ ltx.FileIterator }

func (it *plainSizeIterator) Item() *ltx.FileInfo {
	info := *it.FileIterator.Item()
	info.Size = plainSize(info.Size)
	return &info
}

// plainSize is the size of the LTX file an encrypted object of size n
// holds; 0 for an object too short to be one.
func plainSize(n int64) int64 {
	body := n - encHead
	if body < encTag {
		return 0
	}
	chunks := (body + encChunk + encTag - 1) / (encChunk + encTag)
	return max(body-chunks*encTag, 0)
}

// chunkOffset is where chunk i starts in an encrypted object.
func chunkOffset(i int64) int64 { return encHead + i*(encChunk+encTag) }

func (c *cryptClient) WriteLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, r io.Reader) (*ltx.FileInfo, error) {
	hdr, r, err := ltx.PeekHeader(r)
	if err != nil {
		return nil, fmt.Errorf("encrypt replica object: %w", err)
	}
	ks, err := c.keys(ctx)
	if err != nil {
		return nil, err
	}
	keyID, key, err := ks.currentKey()
	if err != nil {
		return nil, err
	}
	head := make([]byte, encHead, encHead+1)
	copy(head, ltx.Magic)
	binary.BigEndian.PutUint64(head[16:], uint64(minTXID))
	binary.BigEndian.PutUint64(head[24:], uint64(maxTXID))
	binary.BigEndian.PutUint64(head[32:], uint64(hdr.Timestamp))
	h := head[encCoverSize:]
	copy(h, encMagic)
	h[4] = encVersion
	binary.BigEndian.PutUint32(h[8:], keyID)
	binary.BigEndian.PutUint32(h[12:], encChunk)
	rand.Read(h[16 : 16+encSaltSize])
	aead, err := objectAEAD(key, h[16:16+encSaltSize], c.workspace, level, minTXID, maxTXID)
	if err != nil {
		return nil, err
	}
	enc := &encReader{src: r, aead: aead, aad: append(head, 0), out: append([]byte(nil), head...), pend: make([]byte, 0, encChunk+1)}
	info, err := c.inner.WriteLTXFile(ctx, level, minTXID, maxTXID, enc)
	if enc.err != nil {
		return nil, enc.err
	}
	if err != nil {
		return nil, err
	}
	out := *info
	out.Size = plainSize(info.Size)
	return &out, nil
}

// objectAEAD is the AEAD of one object; see above.
func objectAEAD(dataKey, salt []byte, workspace string, level int, minTXID, maxTXID ltx.TXID) (cipher.AEAD, error) {
	info := fmt.Sprintf("atrium replica object v1\x00%s\x00%d\x00%s", workspace, level, ltx.FormatFilename(minTXID, maxTXID))
	key, err := hkdf.Key(sha256.New, dataKey, salt, info, keyBytes)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func chunkNonce(i int64) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n[4:], uint64(i))
	return n
}

// encReader yields the encrypted object of the LTX file src.
type encReader struct {
	src    io.Reader
	aead   cipher.AEAD
	aad    []byte // head, then 1 for the last chunk, 0 for the others
	idx    int64
	pend   []byte // plaintext read and not sealed yet, at most a chunk and a byte
	out    []byte // ciphertext to hand out
	buf    []byte
	srcEOF bool
	done   bool
	err    error
}

func (e *encReader) Read(p []byte) (int, error) {
	for len(e.out) == 0 {
		if e.err != nil {
			return 0, e.err
		}
		if e.done {
			return 0, io.EOF
		}
		e.sealNext()
	}
	n := copy(p, e.out)
	e.out = e.out[n:]
	return n, nil
}

// sealNext seals the next chunk; it reads a byte past the chunk to know
// whether it is the last.
func (e *encReader) sealNext() {
	for !e.srcEOF && len(e.pend) < encChunk+1 {
		n, err := e.src.Read(e.pend[len(e.pend) : encChunk+1])
		e.pend = e.pend[:len(e.pend)+n]
		if err == io.EOF {
			e.srcEOF = true
		} else if err != nil {
			e.err = err
			return
		}
	}
	last := len(e.pend) <= encChunk
	chunk := e.pend
	if !last {
		chunk = e.pend[:encChunk]
	}
	e.aad[len(e.aad)-1] = boolByte(last)
	e.buf = e.aead.Seal(e.buf[:0], chunkNonce(e.idx), chunk, e.aad)
	e.out = e.buf
	e.idx++
	if last {
		e.done = true
		e.pend = e.pend[:0]
		return
	}
	e.pend = e.pend[:copy(e.pend, e.pend[encChunk:])]
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// OpenLTXFile reads the plaintext range [offset, offset+size) (size 0:
// to the end) of an object, fetching only the chunks that hold it (and
// the header, apart, when they are not the first).
func (c *cryptClient) OpenLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, offset, size int64) (io.ReadCloser, error) {
	if offset < 0 || size < 0 {
		return nil, fmt.Errorf("encrypted replica: bad range %d+%d", offset, size)
	}
	first := offset / encChunk
	var head []byte
	if first > 0 {
		rc, err := c.inner.OpenLTXFile(ctx, level, minTXID, maxTXID, 0, encHead)
		if err != nil {
			return nil, err
		}
		head = make([]byte, encHead)
		_, err = io.ReadFull(rc, head)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%w (%s, level %d: cannot read its header: %v)", ErrReplicaTampered, ltx.FormatFilename(minTXID, maxTXID), level, err)
		}
	}
	start := chunkOffset(first)
	if first == 0 {
		start = 0
	}
	var length int64 // to the end
	if size > 0 {
		last := (offset + size - 1) / encChunk
		length = chunkOffset(last+1) - start + 1 // and a byte: is the last chunk the object's last?
	}
	rc, err := c.inner.OpenLTXFile(ctx, level, minTXID, maxTXID, start, length)
	if err != nil {
		return nil, err
	}
	d := &decReader{rc: rc, name: ltx.FormatFilename(minTXID, maxTXID), level: level, idx: first, skip: offset - first*encChunk, remain: -1}
	if size > 0 {
		d.remain = size
	}
	if head == nil {
		head = make([]byte, encHead)
		if _, err := io.ReadFull(rc, head); err != nil {
			rc.Close()
			return nil, d.fail(fmt.Errorf("cannot read its header: %v", err))
		}
	}
	if err := c.openHead(ctx, d, head, level, minTXID, maxTXID); err != nil {
		rc.Close()
		return nil, err
	}
	return d, nil
}

func (c *cryptClient) openHead(ctx context.Context, d *decReader, head []byte, level int, minTXID, maxTXID ltx.TXID) error {
	h := head[encCoverSize:]
	if string(head[:4]) != ltx.Magic || string(h[:4]) != encMagic {
		return d.fail(errors.New("it is not an encrypted object (was encrypt: true set on a region whose replica already held plain objects?)"))
	}
	if h[4] != encVersion || binary.BigEndian.Uint32(h[12:]) != encChunk {
		return d.fail(fmt.Errorf("unknown format version %d or chunk size %d", h[4], binary.BigEndian.Uint32(h[12:])))
	}
	ks, err := c.keys(ctx)
	if err != nil {
		return err
	}
	key, err := ks.key(binary.BigEndian.Uint32(h[8:]))
	if _, ok := ks.keys[binary.BigEndian.Uint32(h[8:])]; !ok && c.missingKey != nil {
		err = c.missingKey(binary.BigEndian.Uint32(h[8:]))
	}
	if err != nil {
		return fmt.Errorf("cannot decrypt replica object %s: %w", d.name, err)
	}
	if d.aead, err = objectAEAD(key, h[16:16+encSaltSize], c.workspace, level, minTXID, maxTXID); err != nil {
		return err
	}
	d.aad = append(append([]byte(nil), head...), 0)
	return nil
}

// decReader yields the plaintext of a run of chunks.
type decReader struct {
	rc     io.ReadCloser
	aead   cipher.AEAD
	aad    []byte
	name   string
	level  int
	idx    int64
	skip   int64 // plaintext bytes to drop from the first chunk
	remain int64 // plaintext bytes still wanted; -1: all
	ahead  []byte
	cbuf   []byte
	pbuf   []byte
	out    []byte
	done   bool
	err    error
}

func (d *decReader) fail(err error) error {
	return fmt.Errorf("%w (%s, level %d: %v)", ErrReplicaTampered, d.name, d.level, err)
}

func (d *decReader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		if d.done {
			return 0, io.EOF
		}
		if err := d.openNext(); err != nil {
			d.err = err
			return 0, err
		}
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

func (d *decReader) openNext() error {
	if d.cbuf == nil {
		d.cbuf = make([]byte, encChunk+encTag)
	}
	n := copy(d.cbuf, d.ahead)
	d.ahead = nil
	m, err := io.ReadFull(d.rc, d.cbuf[n:])
	n += m
	last := false
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		last = true
	case err != nil:
		return err // a read error, not a bad object: Litestream may retry
	default:
		var one [1]byte
		k, err := io.ReadFull(d.rc, one[:])
		switch {
		case k == 1:
			d.ahead = []byte{one[0]}
		case errors.Is(err, io.EOF):
			last = true
		default:
			return err
		}
	}
	if n < encTag {
		return d.fail(fmt.Errorf("chunk %d is truncated", d.idx))
	}
	d.aad[len(d.aad)-1] = boolByte(last)
	plain, err := d.aead.Open(d.pbuf[:0], chunkNonce(d.idx), d.cbuf[:n], d.aad)
	if err != nil {
		return d.fail(fmt.Errorf("chunk %d does not authenticate", d.idx))
	}
	d.pbuf = plain
	d.idx++
	if last {
		d.done = true
	}
	if d.skip > 0 {
		if d.skip > int64(len(plain)) {
			d.done = true
			plain = nil
		} else {
			plain = plain[d.skip:]
		}
		d.skip = 0
	}
	if d.remain >= 0 {
		if int64(len(plain)) >= d.remain {
			plain = plain[:d.remain]
			d.done = true
		}
		d.remain -= int64(len(plain))
	}
	d.out = plain
	return nil
}

func (d *decReader) Close() error { return d.rc.Close() }

// DecryptReplicaDir decrypts the encrypted replica objects of one
// workspace found under src (a file replica's directory, or an S3 prefix
// copied down) into the same places under dst, which Litestream then
// restores from as a file replica (litestream restore -o FILE file://DST).
// It needs only the workspace's exported keys; the catalog's replica
// decrypts the same way with the keys of `atrium keys export catalog`. It returns how many objects
// it decrypted; an object that fails authentication stops it.
func DecryptReplicaDir(ctx context.Context, ek *ExportedKeys, src, dst string) (int, error) {
	if filepath.Base(filepath.Clean(src)) == catalogPrefix && ek.Workspace != catalogPrefix {
		return 0, fmt.Errorf("%s looks like the catalog's replica, and the key file is workspace %s's: decrypt the catalog's with the keys of atrium keys export catalog", src, ek.Workspace)
	}
	ks := ek.keySet()
	c := &cryptClient{workspace: ek.Workspace, keys: func(context.Context) (*workspaceKeySet, error) { return ks, nil }}
	if ek.Workspace == catalogPrefix {
		c.missingKey = missingMasterKey(ks)
	}
	n := 0
	err := filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		minTXID, maxTXID, perr := ltx.ParseFilename(e.Name())
		level, lerr := strconv.ParseUint(filepath.Base(filepath.Dir(path)), 16, 8) // "0" (file) or "0000" (S3): the same below 10
		if perr != nil || lerr != nil {
			return nil
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.decryptFile(ctx, path, filepath.Join(dst, rel), int(level), minTXID, maxTXID); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		n++
		return nil
	})
	return n, err
}

func (c *cryptClient) decryptFile(ctx context.Context, in, out string, level int, minTXID, maxTXID ltx.TXID) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	d := &decReader{rc: f, name: ltx.FormatFilename(minTXID, maxTXID), level: level, remain: -1}
	head := make([]byte, encHead)
	if _, err := io.ReadFull(f, head); err != nil {
		return d.fail(fmt.Errorf("cannot read its header: %v", err))
	}
	if err := c.openHead(ctx, d, head, level, minTXID, maxTXID); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
		return err
	}
	tmp := out + ".tmp"
	g, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(g, d)
	if cerr := g.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, out)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	// Litestream's file replica takes an object's time from its mtime.
	at := time.UnixMilli(int64(binary.BigEndian.Uint64(head[32:]))).UTC()
	return os.Chtimes(out, at, at)
}
