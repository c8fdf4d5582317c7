package governortest_test

import (
	"testing"

	"github.com/schedulezero/schedulezero/pkg/governor/governortest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFake_Conformance(t *testing.T) {
	governortest.Exercise(t, func(t *testing.T) governortest.Harness {
		return governortest.Harness{Units: governortest.NewFake()}
	})
}
