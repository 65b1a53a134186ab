package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"atrium/tenant"
)

// The CLI beside a running server. `atrium serve` holds the data directory's
// lock, so another atrium process cannot open its files (two would replicate
// them and mix their backups). Such a command, when its Open finds the lock
// held and the server's socket answers, is sent to the server instead: the
// server runs it in its own process, against its own Manager, in a Main of
// its own, and sends back what it wrote to stdout and stderr and its exit
// status. The client never opens the files once it forwards, and forwards
// only after Open failed to lock them, so a command is carried out once, by
// one process.
//
// The wire: the client writes one JSON remoteRequest; the server answers
// with JSON remoteFrames, the last one carrying the exit status.

// socketName is the server's socket in the data directory.
const socketName = "atrium.sock"

const (
	// requestTimeout bounds the wait for a caller's request, not the
	// command: an export or a restore runs as long as it needs.
	requestTimeout = 30 * time.Second
	// maxRequestBytes bounds a request: arguments and what the command
	// read of stdin (a password line).
	maxRequestBytes = 1 << 20
	// shutdownGrace is how long a stopping server lets commands in flight
	// finish before it cancels them.
	shutdownGrace = 30 * time.Second
)

type remoteRequest struct {
	Args []string `json:"args"`
	// Stdin is what the command read of the caller's stdin before it
	// found the server running, given to the server's run of it.
	Stdin []byte `json:"stdin,omitempty"`
	// Dir is the caller's working directory, where relative paths in
	// the arguments are.
	Dir string `json:"dir"`
}

type remoteFrame struct {
	Stdout []byte `json:"stdout,omitempty"`
	Stderr []byte `json:"stderr,omitempty"`
	Exit   *int   `json:"exit,omitempty"`
}

// needsServerStopped names the commands a running server cannot carry out:
// serve itself, and restore-all, which brings back files under a server
// that would be using them.
func needsServerStopped(cmd string) bool {
	return cmd == "serve" || cmd == "restore-all"
}

func besideServerError(cmd, dataDir string) error {
	if cmd == "serve" {
		return fmt.Errorf("a server (atrium serve) is already running on the data directory %s", dataDir)
	}
	return fmt.Errorf("'atrium %s' needs the server stopped: atrium serve is running on the data directory %s; stop it first", cmd, dataDir)
}

// serverRunningError is Open's answer when the data directory is held by a
// server that answers on its socket: run sends the command there.
type serverRunningError struct {
	conn    net.Conn
	dataDir string
}

func (e *serverRunningError) Error() string {
	return fmt.Sprintf("atrium serve is running on the data directory %s", e.dataDir)
}

// serverOrLocked turns a held lock into a serverRunningError when the
// server's socket accepts a connection, and keeps the lock's own error when
// none does (another command holds it, or a server still starting).
func serverOrLocked(locked *tenant.LockedError) error {
	conn, err := dialServer(locked.DataDir)
	if err != nil {
		return locked
	}
	return &serverRunningError{conn: conn, dataDir: locked.DataDir}
}

func dialServer(dataDir string) (net.Conn, error) {
	addr, done, err := socketAddr(filepath.Join(dataDir, socketName))
	if err != nil {
		return nil, err
	}
	defer done()
	return net.DialTimeout("unix", addr, 5*time.Second)
}

// maxSocketPath is the longest path a Unix socket address holds everywhere
// (104 bytes on the BSDs, 108 on Linux, with the final NUL).
const maxSocketPath = 103

// socketAddr returns an address for the socket at path. A path too long for
// a socket address is reached through /proc/self/fd and an open handle on
// its directory, which done closes.
func socketAddr(path string) (addr string, done func(), err error) {
	if len(path) <= maxSocketPath {
		return path, func() {}, nil
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return "", nil, err
	}
	addr = fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), filepath.Base(path))
	if _, err := os.Stat(filepath.Dir(addr)); err != nil {
		dir.Close()
		return "", nil, fmt.Errorf("the path %s is too long for a Unix socket", path)
	}
	return addr, func() { dir.Close() }, nil
}

// forward sends the command line to the running server and copies its
// answer out; it returns the command's exit status.
func (e *serverRunningError) forward(args []string, stdin []byte, stdout, stderr io.Writer) int {
	defer e.conn.Close()
	dir, err := os.Getwd()
	if err != nil {
		return exitStatus(fmt.Errorf("cannot tell the current directory to the running server: %w", err), stderr)
	}
	// A server that refuses the caller answers without reading the
	// request, so a failed send is reported only if no answer follows.
	sendErr := json.NewEncoder(e.conn).Encode(remoteRequest{Args: args, Stdin: stdin, Dir: dir})
	dec := json.NewDecoder(e.conn)
	for {
		var f remoteFrame
		switch err := dec.Decode(&f); {
		case err != nil && sendErr != nil:
			return exitStatus(fmt.Errorf("cannot send the command to the running server on %s: %w", e.dataDir, sendErr), stderr)
		case err != nil:
			return exitStatus(fmt.Errorf("the connection to the running server on %s was lost before the command finished; check whether it took effect", e.dataDir), stderr)
		}
		stdout.Write(f.Stdout)
		stderr.Write(f.Stderr)
		if f.Exit != nil {
			return *f.Exit
		}
	}
}

// recordingReader keeps what was read through it: the part of stdin a
// command consumed before it found the server running.
type recordingReader struct {
	r    io.Reader
	read bytes.Buffer
}

func (r *recordingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.read.Write(p[:n])
	return n, err
}

// cliServer carries out the commands sent to a running server.
type cliServer struct {
	manager *tenant.Manager
	log     *slog.Logger
	ln      *net.UnixListener
	path    string
	// allowUID says whether a caller's user may run commands: sameUser
	// (tests pass a stricter one, having no second user at hand).
	allowUID func(uid int) bool

	ctx      context.Context // of the commands: cancelled when the grace ends
	cancel   context.CancelFunc
	accepted chan struct{} // closed when the accept loop has returned
	wg       sync.WaitGroup
}

// listenCLI opens the socket in the data directory and serves commands on
// it until Close. The socket is made under a temporary name, made
// owner-only, then renamed into place, so it is never reachable with a
// wider mode; the rename replaces a socket a crashed server left (the data
// directory's lock, which the Manager holds, makes it stale for sure).
func listenCLI(mgr *tenant.Manager, log *slog.Logger, allowUID func(uid int) bool) (*cliServer, error) {
	path := filepath.Join(mgr.DataDir(), socketName)
	tmp := filepath.Join(mgr.DataDir(), "."+socketName+".new")
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	addr, done, err := socketAddr(tmp)
	if err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
	done()
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false) // it is renamed; Close removes it by its name
	err = os.Chmod(tmp, 0o600)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("cannot put the socket for commands at %s: %w", path, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &cliServer{manager: mgr, log: log, ln: ln, path: path, allowUID: allowUID, ctx: ctx, cancel: cancel, accepted: make(chan struct{})}
	go s.acceptLoop()
	return s, nil
}

// sameUser allows the server's own user only: a command runs with the
// server's rights over the data, its files and its keys.
func sameUser(uid int) bool { return uid == os.Getuid() }

func (s *cliServer) acceptLoop() {
	defer close(s.accepted)
	for {
		conn, err := s.ln.AcceptUnix()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // out of file descriptors, say: let some close
			time.Sleep(100 * time.Millisecond)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(conn)
		}()
	}
}

// Close stops taking commands and removes the socket, lets the commands in
// flight finish for shutdownGrace, then cancels them and waits until they
// have returned: the Manager they use closes next.
func (s *cliServer) Close() {
	s.ln.Close()
	<-s.accepted
	os.Remove(s.path)
	finished := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(shutdownGrace):
		s.cancel()
		<-finished
	}
	s.cancel()
}

// handle carries out one command: it checks who is calling, reads the
// request, and runs it in a Main of its own that shares the Manager.
func (s *cliServer) handle(conn *net.UnixConn) {
	defer conn.Close()
	frames := &frameWriter{enc: json.NewEncoder(conn)}
	stdout, stderr := frames.stream(false), frames.stream(true)
	fail := func(err error) { frames.exit(exitStatus(err, stderr)) }
	uid, err := peerUID(conn)
	if err != nil {
		fail(fmt.Errorf("the running server cannot tell which user is calling: %w", err))
		return
	}
	if !s.allowUID(uid) {
		fail(fmt.Errorf("the running server on %s takes commands only from its own user (uid %d), not from uid %d; run the command as that user",
			s.manager.DataDir(), os.Getuid(), uid))
		return
	}
	conn.SetReadDeadline(time.Now().Add(requestTimeout))
	var req remoteRequest
	if err := json.NewDecoder(io.LimitReader(conn, maxRequestBytes)).Decode(&req); err != nil {
		fail(fmt.Errorf("the running server could not read the command: %w", err))
		return
	}
	conn.SetReadDeadline(time.Time{})
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	go func() {
		// The caller sends nothing more: the end of its side means it
		// is gone (interrupted, say), and its command stops as it would
		// have in its own process.
		io.Copy(io.Discard, conn)
		cancel()
	}()
	m := NewMain(bytes.NewReader(req.Stdin), stdout, stderr)
	m.Manager, m.sharedManager, m.workDir = s.manager, true, req.Dir
	err = m.Run(ctx, req.Args)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	status := exitStatus(err, stderr)
	s.log.Info("ran a command from the CLI", "args", req.Args, "exit", status)
	frames.exit(status)
}

// frameWriter sends frames on a connection, one at a time: a command may
// write from several goroutines.
type frameWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (f *frameWriter) send(fr remoteFrame) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.enc.Encode(fr)
}

func (f *frameWriter) exit(status int) { f.send(remoteFrame{Exit: &status}) }

// stream returns a writer whose writes go out as stdout or stderr frames.
func (f *frameWriter) stream(stderr bool) io.Writer { return streamWriter{f, stderr} }

type streamWriter struct {
	frames *frameWriter
	stderr bool
}

func (w streamWriter) Write(p []byte) (int, error) {
	fr := remoteFrame{Stdout: p}
	if w.stderr {
		fr = remoteFrame{Stderr: p}
	}
	if err := w.frames.send(fr); err != nil {
		return 0, err
	}
	return len(p), nil
}
