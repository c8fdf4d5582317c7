// Package api serves ScheduleZero's REST API over net/http.
//
// It exists so that the scheduler daemon has one place where HTTP meets the
// engine: request bodies are decoded strictly here (every rejection names the
// offending field), engine errors are mapped to HTTP statuses here and nowhere
// else, and both dialects are served from one Backend:
//
//   - the original Python ScheduleZero endpoints under /api (health, handlers,
//     schedule, run_now, schedules, executions...), with the same JSON shapes
//     so that existing scripts keep working, minus the original's bugs
//     (DELETE of an unknown id is 404, a duplicate job_id is 409 unless the
//     request sets "replace": true);
//   - the versioned API under /api/v1 that exposes everything the engine can
//     do (pause, resume, run, per-execution attempts) and that pkg/client and
//     the schedulezero CLI use.
//
// The /api/v1 endpoints:
//
//	GET    /api/v1/health                          {"status":"ok","service","version"}
//	GET    /api/v1/handlers                        {"handlers":[HandlerStatus]}
//	GET    /api/v1/schedules                       {"schedules":[Schedule],"count"}
//	POST   /api/v1/schedules                       201 Schedule (body: CreateScheduleRequest)
//	GET    /api/v1/schedules/{id}                  Schedule
//	DELETE /api/v1/schedules/{id}                  204
//	POST   /api/v1/schedules/{id}/pause|resume     Schedule
//	PATCH  /api/v1/schedules/{id}                  Schedule (body: UpdateScheduleRequest; absent keys stay)
//	POST   /api/v1/schedules/{id}/run[?force=true] 202 {"schedule_id","execution_id"}
//	POST   /api/v1/schedules/{id}/backfill         202 BackfillResult (body: {"from","to"} RFC 3339)
//	GET    /api/v1/schedules/{id}/executions       {"executions":[...],"count"} (status, handler_id, since, until, limit)
//	GET    /api/v1/executions                      same, filters schedule_id, handler_id, status, since, until (RFC 3339,
//	                                               cut from the newest 10000 matches), limit (100, max 1000)
//	GET    /api/v1/executions/{execution_id}       {"execution_id","attempts":[...]} (404 when none)
//	GET    /api/v1/stats                           Stats (with "missed")
//	POST   /api/v1/run                             store.Execution of the final attempt (body: RunNowRequest)
//	GET    /api/v1/events                          text/event-stream of event.Event (kind, schedule_id, handler_id filters)
//
// Schedules carry a "policy" object (see Policy and docs/scheduling.md): how
// missed occurrences, overlapping fires, jitter, run limits and retries are
// handled. Create bodies of both dialects accept it; v1 answers show it, with
// durations as strings and zero keys left out, next to "missed_count",
// "paused_at" and "done". A bad policy value is a 400 naming
// "policy.<field>". PATCH merges "policy" key by key into the current one.
//
// POST .../run fires the schedule outside its trigger; the overlap policy
// applies (a skipped run answers the id of its "missed" record, a queued one
// an empty execution_id) unless ?force=true. POST .../backfill queues every
// occurrence of the trigger in [from, to] (at most 1000), to run in order.
//
// Errors always have the shape
//
//	{"error":{"code":404,"message":"...","field":"...","fix":"..."}}
//
// where field and fix are present when the problem is one input field.
//
// The original's endpoints follow its behaviour (docs/protocol.md, "The
// REST API", lists it with the deliberate differences; golden tests in
// testdata/ pin the shapes):
//
//   - POST /api/schedule and /api/run_now require handler_id, job_method and
//     job_params ("Missing required fields: ['job_params']"), lower-case the
//     trigger type, and answer "Method 'X' not exposed by handler 'H'" (400)
//     for a method the handler lacks.
//   - POST /api/run_now answers 200 with the handler's reply when the final
//     attempt succeeded and 500 "Failed to execute job: ..." otherwise;
//     errors before an end state (unknown handler 404, handler unreachable
//     503, deadline 504) keep their statuses.
//   - GET /api/schedules lists live schedules only (a fired date is gone and
//     its id free), "trigger" is APScheduler 4's str() of the trigger and
//     "args" [handler_id, job_method, job_params, job_id].
//   - The history endpoints show one record per execution, folded from its
//     attempts (legacy_history.go), over the newest 1000 executions as the
//     original's buffer did; /api/v1 shows every attempt.
//   - GET / is a small static page, open without a token like the health
//     checks (the original's tests probe it); GET /api/readme a text about
//     the API; GET /api/config Options.Config.
//   - CORS headers only for Options.CORSOrigins (cors.go).
//   - The original endpoints ignore unknown body keys as the original did; the
//     /api/v1 endpoints reject them. Both accept the v1 fields (timezone,
//     max_attempts, timeout, replace, policy) and both spellings of the id (id,
//     job_id).
//   - When Options.Tokens is set every endpoint except the two health checks
//     needs a bearer token (401 otherwise), so that probes need no secret.
//   - An unknown path, or a known path with another method, is a JSON 404.
package api
