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
// Choices where the original was silent or ambiguous (kept stable by golden
// tests in testdata/):
//
//   - POST /api/run_now answers 200 whenever the call reached a final state;
//     "status" is "success" when the handler answered success=true and "error"
//     otherwise (then "error" carries the reason), "result" is the handler's
//     reply object as it sent it, and "execution_id" names the history record.
//     Errors before the handler answered (unknown handler 404, handler
//     unreachable 503, deadline 504) are error responses.
//   - GET /api/schedules renders "trigger" as the trigger object and "args" as
//     [handler_id, job_method, job_params], the arguments the original passed
//     to its job function.
//   - GET /api/executions/stats answers total_executions, success_count,
//     error_count (every finished state other than success), success_rate (a
//     percentage rounded to two decimals), avg_duration_ms and by_handler
//     ({"total","success","error","avg_duration_ms"} per handler), plus
//     by_status.
//   - GET /api/schedules gives next_fire_time null for a paused or finished
//     schedule.
//   - The original endpoints ignore unknown body keys as the original did; the
//     /api/v1 endpoints reject them. Both accept the v1 fields (timezone,
//     max_attempts, timeout, replace, policy) and both spellings of the id (id,
//     job_id).
//   - When Options.Tokens is set every endpoint except the two health checks
//     needs a bearer token (401 otherwise), so that probes need no secret.
//   - An unknown path, or a known path with another method, is a JSON 404.
package api
