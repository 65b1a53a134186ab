package handlers

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"atrium/store"
	"atrium/tenant"
)

// My tasks gathers a user's open tasks from every workspace they belong to.
// Each workspace is opened through the handle cache, so a page is bounded:
// at most myTasksWorkspaces workspaces per page (the rest on the next
// pages, and the page says so), at most myTasksEach tasks from each.
const (
	myTasksWorkspaces = 20
	myTasksEach       = 50
	// switcherShown bounds the workspaces the switcher lists (and counts
	// tasks in); an agency owner with hundreds finds the others by name.
	switcherShown = 15
)

// myTask is one task of the My tasks page with its workspace.
type myTask struct {
	store.MyTask
	Workspace store.MemberWorkspace
	URL       string // the record's page
	CSRF      string // the token of the task's workspace, for its forms
	Bucket    string // overdue, today, upcoming or undated
	CanWrite  bool
	Clock     clock // the user's, for the due day
}

// myTaskGroup is the tasks of one bucket.
type myTaskGroup struct {
	Key, Title string
	Tasks      []myTask
}

// myTasksPage is the page: its groups, and how much of the user's
// workspaces it covers.
type myTasksPage struct {
	Groups     []myTaskGroup
	Total      int
	Today      string
	Each       int  // tasks shown per workspace at most
	Paged      bool // the user has more workspaces than one page covers
	Workspaces int  // the user's workspaces
	From, To   int  // the workspaces this page covers, 1-based
	Prev, Next int  // page numbers, 0 for none
	Capped     []string
	Failed     []string // workspaces that could not be opened now
}

var myTaskBuckets = []struct{ Key, Title string }{
	{"overdue", "Overdue"}, {"today", "Due today"}, {"upcoming", "Upcoming"}, {"undated", "No due date"},
}

// myTasks shows the signed-in user's open tasks across their workspaces.
func (s *Server) myTasks(w http.ResponseWriter, r *http.Request) {
	a := authFrom(r)
	ctx := r.Context()
	pageNo := 1
	if v := r.URL.Query().Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			s.renderError(w, r, http.StatusBadRequest, "The page must be a whole number from 1.")
			return
		}
		pageNo = n
	}
	all, err := store.UserWorkspaces(ctx, s.catalog.R, a.user.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	today := store.Today()
	p := myTasksPage{Today: today, Each: myTasksEach, Workspaces: len(all), Paged: len(all) > myTasksWorkspaces}
	start := (pageNo - 1) * myTasksWorkspaces
	if start >= len(all) && pageNo > 1 {
		s.notFound(w, r)
		return
	}
	end := min(start+myTasksWorkspaces, len(all))
	p.From, p.To = start+1, end
	if pageNo > 1 {
		p.Prev = pageNo - 1
	}
	if end < len(all) {
		p.Next = pageNo + 1
	}
	var tasks []myTask
	for _, ws := range all[start:end] {
		got, err := s.workspaceTasks(r, ws)
		if err != nil {
			if store.ErrorCode(err) == store.EInternal {
				s.log.Error("my tasks: read a workspace", "workspace", ws.ID, "err", err)
			}
			p.Failed = append(p.Failed, ws.Name)
			continue
		}
		if len(got) == myTasksEach {
			p.Capped = append(p.Capped, ws.Name)
		}
		tasks = append(tasks, got...)
	}
	// Within a group: soonest first, then by workspace as the switcher
	// lists them (the order of all), then as each workspace listed them.
	slices.SortStableFunc(tasks, func(x, y myTask) int { return strings.Compare(x.DueDate, y.DueDate) })
	for _, b := range myTaskBuckets {
		g := myTaskGroup{Key: b.Key, Title: b.Title}
		for _, t := range tasks {
			if t.Bucket == b.Key {
				g.Tasks = append(g.Tasks, t)
			}
		}
		p.Groups = append(p.Groups, g)
	}
	p.Total = len(tasks)
	v := s.newView(r, "My tasks")
	v.Section = "my-tasks"
	v.Page = p
	s.render(w, r, http.StatusOK, "mytasks", v)
}

// workspaceTasks reads the user's open tasks of one workspace through the
// handle cache.
func (s *Server) workspaceTasks(r *http.Request, ws store.MemberWorkspace) ([]myTask, error) {
	a := authFrom(r)
	lease, err := s.tenants.Acquire(r.Context(), ws.ID)
	if err != nil {
		return nil, err
	}
	defer lease.Release()
	list, err := store.ListMyTasks(r.Context(), lease.DB, a.user.ID, myTasksEach)
	if err != nil {
		return nil, err
	}
	today := store.Today()
	out := make([]myTask, len(list))
	for i, t := range list {
		out[i] = newMyTask(t, ws, csrfToken(a.seed, ws.ID), today, clockOf(a.user))
	}
	return out, nil
}

func newMyTask(t store.MyTask, ws store.MemberWorkspace, csrf, today string, c clock) myTask {
	return myTask{MyTask: t, Workspace: ws, URL: taskParentURL(ws.ID, &t.Task), CSRF: csrf, Clock: c,
		Bucket: store.TaskBucket(t.DueDate, today), CanWrite: store.RoleRank(ws.Role) >= store.RoleRank("member")}
}

// switcherCount is what the workspace switcher shows of one workspace.
type switcherCount struct {
	ID string
	store.TaskCounts
}

// switcherList answers the switcher's search (htmx): the user's
// workspaces whose name holds q, as the switcher's list.
func (s *Server) switcherList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	if utf8.RuneCountInString(q) > tenant.MaxNameLength {
		s.fail(w, r, store.Errorf(store.EInvalid, "Search for at most %d characters of a workspace's name.", tenant.MaxNameLength))
		return
	}
	a := authFrom(r)
	ws, more, err := store.SwitcherWorkspaces(r.Context(), s.catalog.R, a.user.ID, q, switcherShown)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	// Not newView: it would list the first workspaces again, unfiltered.
	v := &view{User: a.user, CSRFGlobal: csrfToken(a.seed, ""), Workspaces: ws, MoreWorkspaces: more}
	s.renderPartial(w, r, "mytasks", "switcher-list", v)
}

// myTaskCounts answers the switcher when it opens (htmx): how many of the
// user's tasks are due today and overdue in each workspace, as out-of-band
// swaps of the spans the switcher holds. Counting opens the workspaces'
// files, so pages do not do it on every render: only an opened switcher
// asks, once per page.
func (s *Server) myTaskCounts(w http.ResponseWriter, r *http.Request) {
	a := authFrom(r)
	ctx := r.Context()
	shown, _, err := store.SwitcherWorkspaces(ctx, s.catalog.R, a.user.ID, "", switcherShown)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	today := store.Today()
	var counts []switcherCount
	for _, ws := range shown {
		n, err := s.countTasks(r, ws.ID, today)
		if err != nil {
			continue // its span stays empty; the page works without it
		}
		counts = append(counts, switcherCount{ID: ws.ID, TaskCounts: n})
	}
	s.renderPartial(w, r, "mytasks", "switcher-counts", counts)
}

func (s *Server) countTasks(r *http.Request, workspaceID, today string) (store.TaskCounts, error) {
	lease, err := s.tenants.Acquire(r.Context(), workspaceID)
	if err != nil {
		return store.TaskCounts{}, err
	}
	defer lease.Release()
	return store.CountMyTasks(r.Context(), lease.DB, authFrom(r).user.ID, today)
}

// myTaskDone answers a task ticked on the My tasks page: the row again
// for htmx, else back to the page.
func (s *Server) myTaskDone(w http.ResponseWriter, r *http.Request, id string, done bool) {
	wc := workspaceFrom(r)
	if r.Header.Get("HX-Request") != "true" {
		if done {
			s.flash(w, r, "success", "Task done.")
		} else {
			s.flash(w, r, "success", "Task reopened.")
		}
		http.Redirect(w, r, "/my-tasks", http.StatusSeeOther)
		return
	}
	t, err := store.GetMyTask(r.Context(), wc.lease.DB, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ws := store.MemberWorkspace{ID: wc.ws.ID, Name: wc.ws.Name, Region: wc.ws.Region, Role: wc.role}
	s.renderPartial(w, r, "mytasks", "mytask", newMyTask(*t, ws, csrfToken(authFrom(r).seed, wc.ws.ID), store.Today(), clockOf(authFrom(r).user)))
}
