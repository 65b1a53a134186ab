package handlers

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"atrium/store"
)

// getHX is a GET as htmx sends it.
func (c *client) getHX(path string) response {
	req, _ := http.NewRequest(http.MethodGet, c.ts.URL+path, nil)
	req.Header.Set("HX-Request", "true")
	return c.do(req)
}

var cardRe = regexp.MustCompile(`<li class="deal-card"[^>]*data-deal="([^"]+)"`)

// TestBoard_LoadMoreAndClose: a column shows its first page of cards with
// a "Load more" that brings the rest (htmx fragment, or a page without
// JavaScript), the counts cover every deal, and the Move control closes a
// deal won or lost.
func TestBoard_LoadMoreAndClose(t *testing.T) {
	f := newFixture(t)
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	a := store.Actor{Kind: "user", ID: f.owner.ID}
	const n = store.BoardPageSize + 7
	for i := 0; i < n; i++ {
		title, value := "Bulk deal", "1000"
		if _, err := store.CreateDeal(t.Context(), l.DB, a, store.DealInput{Title: &title, Value: &value, StageID: &f.stage}); err != nil {
			t.Fatal(err)
		}
	}
	l.Release()
	c := f.ts.loggedIn(t, f.member.Email)
	token := c.workspaceToken(f.a)
	w := "/w/" + f.a

	board := c.get(w + "/deals").body
	col := columnOf(t, board, f.stage)
	if got := len(cardRe.FindAllString(col, -1)); got != store.BoardPageSize {
		t.Fatalf("the first column shows %d cards, want %d", got, store.BoardPageSize)
	}
	if !strings.Contains(col, `<span class="badge">`+strconv.Itoa(n+1)+`</span>`) {
		t.Errorf("the column count is not %d", n+1)
	}
	m := regexp.MustCompile(`<li class="load-more"><a href="([^"]+)" hx-get="([^"]+)"`).FindStringSubmatch(col)
	if m == nil || m[1] != m[2] {
		t.Fatalf("no Load more in the column")
	}
	more := strings.ReplaceAll(m[1], "&amp;", "&")
	frag := c.getHX(more)
	wantStatus(t, "load more (htmx)", frag, http.StatusOK)
	if got := len(cardRe.FindAllString(frag.body, -1)); got != n+1-store.BoardPageSize {
		t.Fatalf("load more brings %d cards, want %d", got, n+1-store.BoardPageSize)
	}
	if strings.Contains(frag.body, "load-more") || strings.Contains(frag.body, "<html") {
		t.Error("the last page has a Load more, or is a whole page")
	}
	seen := map[string]bool{}
	for _, m := range cardRe.FindAllStringSubmatch(col+frag.body, -1) {
		if seen[m[1]] {
			t.Errorf("card %s shown twice", m[1])
		}
		seen[m[1]] = true
	}
	if len(seen) != n+1 {
		t.Errorf("%d distinct cards over both pages, want %d", len(seen), n+1)
	}
	page := c.get(more)
	wantStatus(t, "load more (no JavaScript)", page, http.StatusOK)
	if !strings.Contains(page.body, "<html") || len(cardRe.FindAllString(page.body, -1)) != n+1-store.BoardPageSize || !strings.Contains(page.body, "Back to the board") {
		t.Error("the column page without JavaScript is not a page of the remaining cards")
	}

	// Bad and foreign input.
	base := w + "/deals/stages/"
	wantStatus(t, "bad cursor", c.get(base+f.stage+"?cursor=abc"), http.StatusBadRequest)
	wantStatus(t, "unknown stage", c.get(base+"nope"), http.StatusNotFound)
	wantStatus(t, "no stage", c.get(base), http.StatusNotFound)
	pb, _ := pipelineOf(t, f, f.b)
	wantStatus(t, "B's stage", c.get(base+pb.Stages[0].ID), http.StatusNotFound)
	wantStatus(t, "B's stage (htmx)", c.getHX(base+pb.Stages[0].ID), http.StatusNotFound)
	outsider := f.ts.loggedIn(t, f.outsider.Email)
	if r := outsider.get(base + f.stage); r.status != http.StatusNotFound && r.status != http.StatusForbidden {
		t.Errorf("an outsider reads A's column: %d", r.status)
	}
	viewer := f.ts.loggedIn(t, f.viewer.Email)
	if r := viewer.getHX(base + f.stage); r.status != http.StatusOK || strings.Contains(r.body, "data-move-form") {
		t.Errorf("viewer's column page: %d, move forms shown: %v", r.status, strings.Contains(r.body, "data-move-form"))
	}

	// Won and lost from the Move control; counts follow.
	if !strings.Contains(board, `<option value="won">Won</option>`) || !strings.Contains(board, `data-stage="lost"`) {
		t.Error("the board has no Won/Lost choices or drop zones")
	}
	wantStatus(t, "move to won", c.post(w+"/deals/"+f.deal+"/move", token, url.Values{"stage_id": {"won"}}), http.StatusSeeOther)
	l, _ = f.ts.tenants.Acquire(t.Context(), f.a)
	d, err := store.GetDeal(t.Context(), l.DB, f.deal)
	l.Release()
	if err != nil || d.Status != "won" {
		t.Fatalf("after the drop on Won: %+v %v", d, err)
	}
	board = c.get(w + "/deals").body
	if strings.Contains(columnOf(t, board, f.stage), `data-deal="`+f.deal+`"`) || !strings.Contains(columnOf(t, board, f.stage), `<span class="badge">`+strconv.Itoa(n)+`</span>`) {
		t.Error("the won deal is still in its column, or the count did not drop")
	}
	if !regexp.MustCompile(`Won: <strong>1,200.10 EUR</strong> \(1\)`).MatchString(board) {
		t.Error("the won total does not show the deal")
	}
	id := cardRe.FindStringSubmatch(columnOf(t, board, f.stage))[1]
	p, _ := pipelineOf(t, f, f.a)
	wantStatus(t, "move to lost", c.post(w+"/deals/"+id+"/move", token, url.Values{"stage_id": {"lost"}}), http.StatusSeeOther)
	if board = c.get(w + "/deals").body; !strings.Contains(board, "Lost: 1,000.00 EUR (1)") {
		t.Error("the lost total does not show the deal")
	}
	// The board comes back with the filters it had; nothing else passes.
	r := c.post(w+"/deals/"+id+"/move", token, url.Values{"stage_id": {f.stage}, "board": {"?owner=" + f.owner.ID + "&q=bulk&view=table&pipeline=elsewhere&evil=1"}})
	wantStatus(t, "move keeping the filters", r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); loc != w+"/deals?owner="+f.owner.ID+"&pipeline="+p.ID+"&q=bulk" {
		t.Errorf("after a filtered move: Location %q", loc)
	}
	r = c.post(w+"/deals/"+id+"/move", token, url.Values{"stage_id": {f.stage}, "board": {"%zz;"}})
	if loc := r.header.Get("Location"); loc != w+"/deals?pipeline="+p.ID {
		t.Errorf("after a move with a bad board query: Location %q", loc)
	}
	if board := c.get(w + "/deals?q=bulk").body; !strings.Contains(board, `name="board" value="?pipeline=`+p.ID+`&amp;q=bulk"`) {
		t.Error("the Move form does not send the board's filters back")
	}
	wantStatus(t, "move to nowhere", c.post(w+"/deals/"+id+"/move", token, url.Values{"stage_id": {"nowhere"}}), http.StatusUnprocessableEntity)
	wantStatus(t, "viewer closes", viewer.post(w+"/deals/"+id+"/move", viewer.workspaceToken(f.a), url.Values{"stage_id": {"won"}}), http.StatusForbidden)
	l, _ = f.ts.tenants.Acquire(t.Context(), f.b)
	title := "B's deal"
	theirs, err := store.CreateDeal(t.Context(), l.DB, a, store.DealInput{Title: &title})
	l.Release()
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "B's deal to won", c.post(w+"/deals/"+theirs.ID+"/move", token, url.Values{"stage_id": {"won"}}), http.StatusNotFound)
}

// columnOf cuts one column out of the board page.
func columnOf(t *testing.T, board, stage string) string {
	t.Helper()
	i := strings.Index(board, `<section class="column" data-stage="`+stage+`"`)
	if i < 0 {
		t.Fatalf("no column %s on the board", stage)
	}
	end := strings.Index(board[i:], "</section>")
	return board[i : i+end]
}

// TestBrowser_BoardLazyColumnsAndDropZones: a stage of 300 deals keeps the
// page short (its column scrolls on its own), Load more appends the next
// cards in place, and a card dropped on Won leaves its column without the
// page reloading.
func TestBrowser_BoardLazyColumnsAndDropZones(t *testing.T) {
	f := newFixture(t)
	b := newBrowser(t)
	l, err := f.ts.tenants.Acquire(t.Context(), f.a)
	if err != nil {
		t.Fatal(err)
	}
	a := store.Actor{Kind: "user", ID: f.owner.ID}
	for i := 0; i < 300; i++ {
		title, value := "Bulk deal "+strconv.Itoa(i), "1000"
		if _, err := store.CreateDeal(t.Context(), l.DB, a, store.DealInput{Title: &title, Value: &value, StageID: &f.stage}); err != nil {
			t.Fatal(err)
		}
	}
	l.Release()
	run(t, b, "sign in", chromedp.Navigate(f.ts.URL+"/login"), chromedp.WaitVisible(chromedp.ID("f-email")),
		fill(map[string]string{"f-email": f.member.Email, "f-password": testPassword}, "form button[type=submit]"),
		chromedp.WaitVisible(chromedp.CSS(".sidebar")))
	run(t, b, "open the board", chromedp.Navigate(f.ts.URL+"/w/"+f.a+"/deals"), chromedp.WaitVisible(chromedp.CSS(".board")))
	col := `.column[data-stage="` + f.stage + `"]`
	eval := func(what, js string) float64 {
		t.Helper()
		v, err := chromedp.Run(b, chromedp.Evaluate[float64](js))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	height := eval("page height", `document.documentElement.scrollHeight`)
	colScroll := eval("column scroll", `(() => { const c = document.querySelector('`+col+` .cards-col'); return c.scrollHeight - c.clientHeight; })()`)
	t.Logf("board of 301 deals in one stage: page %v px tall; the column scrolls %v px within itself", height, colScroll)
	if height > 3000 || colScroll <= 0 {
		t.Errorf("page %v px tall, column scrolls %v px: the column does not scroll on its own", height, colScroll)
	}
	cards := func() float64 {
		return eval("cards", `document.querySelectorAll('`+col+` .deal-card').length`)
	}
	if n := cards(); n != store.BoardPageSize {
		t.Fatalf("%v cards at first, want %d", n, store.BoardPageSize)
	}
	eval("mark the page", `window.__samePage = 1`)
	run(t, b, "load more", chromedp.Click(chromedp.CSS(col+` .load-more a`)),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('`+col+` .deal-card').length === `+strconv.Itoa(2*store.BoardPageSize), chromedp.WithPollingTimeout(10*time.Second)))
	if eval("same page", `window.__samePage || 0`) != 1 {
		t.Error("Load more reloaded the page")
	}
	if eval("load more left", `document.querySelectorAll('`+col+` .load-more').length`) != 1 {
		t.Error("not exactly one Load more after the first")
	}
	first, err := chromedp.Run(b, chromedp.Evaluate[string](`document.querySelector('`+col+` .deal-card').getAttribute('data-deal')`))
	if err != nil {
		t.Fatal(err)
	}
	drop := `(() => {
		const card = document.querySelector('.deal-card[data-deal="` + first + `"]');
		const zone = document.querySelector('.drop-zone[data-stage="won"]');
		const dt = new DataTransfer();
		card.dispatchEvent(new DragEvent('dragstart', {bubbles: true, dataTransfer: dt}));
		zone.dispatchEvent(new DragEvent('dragover', {bubbles: true, cancelable: true, dataTransfer: dt}));
		zone.dispatchEvent(new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: dt}));
		return 1;
	})()`
	eval("drop on Won", drop)
	run(t, b, "card leaves", chromedp.Poll[chromedp.Void](`!document.querySelector('.deal-card[data-deal="`+first+`"]')`, chromedp.WithPollingTimeout(10*time.Second)))
	if eval("same page", `window.__samePage || 0`) != 1 {
		t.Error("the drop reloaded the page instead of swapping the board")
	}
	summary := read(t, b, "summary", chromedp.Text(chromedp.CSS(".board-summary")))
	head := read(t, b, "column head", chromedp.Text(chromedp.CSS(col+" .column-head")))
	if !strings.Contains(summary, "Won: 1,000.00 EUR (1)") || !strings.Contains(head, "300") {
		t.Errorf("after the drop: summary %q, column %q", summary, head)
	}
}
