//go:build race

package tenant

// raceEnabled scales down stress tests: under the race detector SQLite
// (transpiled C) runs several times slower.
const raceEnabled = true
