package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"atrium/handlers"
	"atrium/store"
	"atrium/tenant"
)

func (m *Main) cmdServe(ctx context.Context, args []string) error {
	fs := m.flagSet("serve")
	addr := fs.String("addr", envOr("ATRIUM_ADDR", "127.0.0.1:8080"), "listen address")
	trustProxy := fs.Bool("trust-proxy", os.Getenv("ATRIUM_TRUST_PROXY") == "1", "trust X-Forwarded-Proto and X-Forwarded-For")
	proxyList := fs.String("trusted-proxies", os.Getenv("ATRIUM_TRUSTED_PROXIES"), "further proxies (addresses, CIDR ranges) in front of the one Atrium talks to")
	publicURL := fs.String("public-url", os.Getenv("ATRIUM_PUBLIC_URL"), "the instance's address as people reach it, the base of links in emails")
	metricsAddr := fs.String("metrics-addr", os.Getenv("ATRIUM_METRICS_ADDR"), "a second listen address serving only /metrics, to anyone who reaches it")
	logFormat := fs.String("log-format", envOr("ATRIUM_LOG_FORMAT", "text"), "text or json")
	if err := m.parseNone(fs, args); err != nil {
		return err
	}
	logger, err := newLogger(m.stderr, *logFormat)
	if err != nil {
		return usagef("--log-format: %s.", err)
	}
	m.Logger = logger
	// Without the flag, the config's public_url, else the listen address
	// (see openFor).
	m.PublicURL, m.listenURL = *publicURL, "http://"+*addr
	trustedProxies, err := handlers.ParseTrustedProxies(*proxyList)
	switch {
	case err != nil:
		return usagef("--trusted-proxies: %s.", err)
	case len(trustedProxies) > 0 && !*trustProxy:
		return usagef("--trusted-proxies needs --trust-proxy.")
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	metrics := handlers.NewMetrics(m.Manager)
	handler, err := handlers.New(ctx, handlers.Config{
		Tenants: m.Manager, Logger: m.Logger, Assets: assets, TrustProxy: *trustProxy, TrustedProxies: trustedProxies,
		Metrics: metrics, MetricsToken: m.Manager.Config().MetricsToken,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", *addr, err)
	}
	if *metricsAddr != "" {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("cannot listen on %s: %w", *metricsAddr, err)
		}
		msrv := &http.Server{Handler: metricsOnly(metrics), ReadHeaderTimeout: 10 * time.Second}
		defer msrv.Close()
		go msrv.Serve(mln)
		m.Logger.Info("serving metrics", "addr", "http://"+mln.Addr().String()+"/metrics")
	}
	// Other atrium commands on this data directory come here (see
	// commands_remote.go), from before the first request is served: a
	// server that answers takes them. Without the socket they say the
	// directory is in use, as they did before, so the server still serves.
	if cli, err := listenCLI(m.Manager, m.Logger, sameUser); err != nil {
		m.Logger.Warn("other atrium commands cannot run while this server runs", "err", err)
	} else {
		defer cli.Close()
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	m.Manager.StartScheduler()
	m.Logger.Info("atrium is serving", "addr", "http://"+ln.Addr().String(), "data", m.Manager.DataDir())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	m.Logger.Info("shutting down: finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// metricsOnly serves the metrics at /metrics and nothing else.
func metricsOnly(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	return mux
}

// parseNone parses flags and refuses positional arguments.
func (m *Main) parseNone(fs *flag.FlagSet, args []string) error {
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("Unexpected argument %q.", pos[0])
	}
	return nil
}

func (m *Main) cmdUserCreate(ctx context.Context, args []string) error {
	fs := m.flagSet("user create")
	email := fs.String("email", "", "email address")
	name := fs.String("name", "", "display name")
	superadmin := fs.Bool("superadmin", false, "make the user an instance superadmin")
	if err := m.parseNone(fs, args); err != nil {
		return err
	}
	if *email == "" {
		return usagef("--email is required.")
	}
	password, err := readPassword(m.stdin)
	if err != nil {
		return err
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	u, err := store.CreateUser(ctx, m.Manager.Catalog(), store.NewUser{Email: *email, Name: *name, Password: password, Superadmin: *superadmin, Verified: true})
	if err != nil {
		return err
	}
	fmt.Fprintln(m.stdout, u.ID)
	return nil
}

// cmdUserPassword sets a user's password from the first line of stdin and
// ends every session of the user: whoever was signed in with the old one
// is out at their next request.
func (m *Main) cmdUserPassword(ctx context.Context, args []string) error {
	fs := m.flagSet("user password")
	email := fs.String("email", "", "email address of the user")
	if err := m.parseNone(fs, args); err != nil {
		return err
	}
	if *email == "" {
		return usagef("--email is required.")
	}
	password, err := readPassword(m.stdin)
	if err != nil {
		return err
	}
	if err := store.ValidatePassword(password); err != nil {
		return err
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	u, ended, err := store.ResetPassword(ctx, m.Manager.Catalog(), *email, password)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.stdout, "password of %s changed; %d session%s ended\n", u.Email, ended, pluralS(ended))
	return nil
}

func pluralS(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// readPassword reads the first line of r.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("cannot read the password from standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usagef("The password is read from the first line of standard input, and it was empty.")
	}
	return line, nil
}

func (m *Main) cmdWorkspaceCreate(ctx context.Context, args []string) error {
	fs := m.flagSet("workspace create")
	name := fs.String("name", "", "workspace name")
	owner := fs.String("owner", "", "email of the user who will own it")
	region := fs.String("region", "", "region (default: the default region)")
	if err := m.parseNone(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usagef("--name is required.")
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	w, err := m.Manager.Create(ctx, tenant.CreateOptions{Name: *name, Region: *region, OwnerEmail: *owner, Actor: "cli"})
	if err != nil {
		return err
	}
	fmt.Fprintln(m.stdout, w.ID)
	return nil
}

func (m *Main) cmdWorkspaceList(ctx context.Context, args []string) error {
	fs := m.flagSet("workspace list")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := m.parseNone(fs, args); err != nil {
		return err
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	infos, err := m.Manager.List(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if infos == nil {
			infos = []tenant.Info{}
		}
		enc := json.NewEncoder(m.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(infos)
	}
	tw := tabwriter.NewWriter(m.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tREGION\tSTATE\tCREATED\tSIZE")
	for _, w := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", w.ID, w.Name, w.Region, w.State,
			w.CreatedAt.Format(time.RFC3339), store.HumanBytes(w.SizeBytes))
	}
	return tw.Flush()
}

func (m *Main) cmdMigrate(ctx context.Context, args []string) error {
	if err := m.parseNone(m.flagSet("migrate"), args); err != nil {
		return err
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	var catalogVersion int
	if err := m.Manager.Catalog().R.GetContext(ctx, &catalogVersion, "PRAGMA user_version"); err != nil {
		return err
	}
	sum, err := m.Manager.MigrateAll(ctx, 4)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.stdout, "catalog at schema version %d\n", catalogVersion)
	fmt.Fprintf(m.stdout, "%d workspaces at schema version %d: %d migrated, %d already current\n",
		sum.Migrated+sum.Current, store.LatestVersion(store.WorkspaceSchema), sum.Migrated, sum.Current)
	return nil
}

func (m *Main) cmdCheck(ctx context.Context, args []string) error {
	if err := m.parseNone(m.flagSet("check"), args); err != nil {
		return err
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	var (
		mu     sync.Mutex
		failed int
	)
	checked, err := m.Manager.CheckAll(ctx, 4, func(what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		failed++
		fmt.Fprintf(m.stdout, "FAIL %s: %v\n", what, err)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.stdout, "%d files checked, %d failed\n", checked, failed)
	// Every workspace data key must unwrap: what it encrypted (secrets,
	// encrypted replicas) is lost otherwise.
	keysFailed := 0
	nkeys, err := m.Manager.CheckKeys(ctx, func(what string, err error) {
		keysFailed++
		fmt.Fprintf(m.stdout, "FAIL %s: %v\n", what, err)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.stdout, "%d workspace keys checked, %d failed\n", nkeys, keysFailed)
	if failed > 0 {
		return fmt.Errorf("%d of %d files failed the integrity check", failed, checked)
	}
	if keysFailed > 0 {
		return fmt.Errorf("%d of %d workspace keys failed the check", keysFailed, nkeys)
	}
	return nil
}
