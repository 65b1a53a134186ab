package handlers

import (
	"fmt"
	"net/netip"
	"strings"
)

// forwardedClient picks the client's address from X-Forwarded-For behind a
// trusted proxy. Each proxy appends the address it received the request
// from, so only the right end of the list is written by proxies; anything
// further left may have been sent by the client itself. The walk therefore
// goes from the right, past the peer and the hops in trusted, to the first
// address that is not a trusted proxy. An entry that is not an address stops
// the walk: what lies left of it cannot be vouched for, so the last trusted
// hop (at worst the peer) is the answer.
func forwardedClient(headers []string, peer string, trusted []netip.Prefix) string {
	hops := strings.Split(strings.Join(headers, ","), ",")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		addr, ok := parseHop(hops[i])
		if !ok {
			break
		}
		client = addr.String()
		if !isTrusted(addr, trusted) {
			break
		}
	}
	return client
}

// parseHop reads one X-Forwarded-For entry: an IPv4 or IPv6 address, with
// or without brackets and a port, as proxies differ in what they write.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.Unmap().WithZone(""), true
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies reads a list of proxy addresses and CIDR ranges,
// separated by commas or spaces ("10.0.0.0/8, 2001:db8::/32, 192.0.2.7").
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for _, item := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := parseProxy(item)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR range", item)
		}
		prefixes = append(prefixes, p)
	}
	return prefixes, nil
}

// parseProxy reads one address (a range of one) or CIDR range. An IPv4
// range written in IPv6 form is refused: parseHop unmaps addresses, so it
// would never match.
func parseProxy(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		addr = addr.Unmap().WithZone("")
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("IPv4-mapped range")
	}
	return p.Masked(), nil
}
