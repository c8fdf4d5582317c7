// Command schedulezero is the command-line client of the ScheduleZero
// scheduler: it manages schedules, shows handlers, history and statistics
// over the REST API, and runs a self-contained demo.
package main

import "os"

func main() { os.Exit(run(os.Args)) }
