package handlers

// jobProgress is a running background job as its page's panel shows it
// (the partials jobPoll and jobRunning): the panel's id, the URL it polls,
// and the bar.
type jobProgress struct {
	ID, URL      string
	Done         bool
	Title, Label string
	Percent      int64
}

// jobPercent is how far a job got, in percent of its total.
func jobPercent(done, total int64) int64 {
	if total <= 0 {
		return 0
	}
	return min(100, done*100/total)
}
