//go:build !linux

package main

import (
	"errors"
	"net"
)

// peerUID is Linux's SO_PEERCRED; elsewhere the server cannot tell who is
// calling, so it takes no commands and they need it stopped.
func peerUID(conn *net.UnixConn) (int, error) {
	return 0, errors.New("this system does not tell a server which user is at the other end of its socket")
}
