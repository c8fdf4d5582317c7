package handler

import (
	"time"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// refusalLogGap spaces the log lines about refused job tokens: a flood of
// forged requests must not flood the journal.
const refusalLogGap = time.Second

// refuseToken answers a request whose job token is missing or wrong,
// without running it: "not_run", so that our scheduler, which may have
// restarted and lost the token, sends it again once we registered again,
// which the poke makes happen now. The log line says how many were
// refused since the last one.
func (r *runner) refuseToken(req wire.Request) []byte {
	reason := "job_token does not match this handler's registration"
	if req.JobToken == "" {
		reason = "job_token is missing"
	}
	n := r.tokenRefusals.Add(1)
	now := int64(time.Since(r.epoch))
	if last := r.refusalLogAt.Load(); (last == 0 || now-last >= int64(refusalLogGap)) && r.refusalLogAt.CompareAndSwap(last, now) {
		r.tokenRefusals.Add(-n)
		r.logger.Warn("job refused: not from the scheduler this handler registered with",
			"method", req.Method, "execution_id", req.ExecutionID, "reason", reason, "refused", n)
	}
	select {
	case r.poke <- struct{}{}:
	default:
	}
	return wire.FailureReply(req.ID, wire.Failure{NotRun: true, Refused: true,
		Error: "job refused: " + reason + "; only the scheduler this handler registered with may send it jobs"})
}

// requireToken decides, after a registration, whether job requests must
// carry the job token: yes, unless the scheduler that accepted it speaks
// an older protocol, which sends none (it did not answer "protocol" 4).
func (r *runner) requireToken(schedulerProtocol int) {
	need := schedulerProtocol >= wire.ProtocolJobToken
	if r.tokenRequired.Swap(need) != need && !need {
		r.logger.Warn("the scheduler sends no job tokens (protocol older than 4): anyone who can reach the job socket can run jobs; upgrade the scheduler",
			"scheduler", r.scheds.endpoint(), "address", r.addr)
	}
}
