package main

import "embed"

// assets holds the page templates and static files, built into the binary.
//
//go:embed templates static
var assets embed.FS
