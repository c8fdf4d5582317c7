package handlername

import (
	"strings"

	"github.com/schedulezero/schedulezero/pkg/field"
)

// Instances and labels of a pool: several handler processes may serve one
// name, each registering with its own instance id and optional labels
// (zone=b), and a schedule may ask for instances whose labels match
// (--on zone=b). The handler's flags, the registration server and the
// schedule's policy check them here, so that a label a handler sends is
// one a schedule can name.

// Bounds of instance ids and labels: a registration carries them on every
// register request, so they stay small.
const (
	MaxInstanceLen = 300
	MaxLabelKeyLen = 63
	MaxLabelValLen = 128
	MaxLabels      = 16
)

const (
	instanceFix = "use 1 to 300 letters, digits and :_.@- such as host-a:worker"
	labelFix    = "use KEY=VALUE: KEY 1 to 63 of a-z, 0-9 and _.- starting with a letter, VALUE up to 128 letters, digits and :_.@/-"
)

// CheckInstance reports whether id can be an instance id: what Check
// allows, plus '@' (a unit name's instance separator).
func CheckInstance(id string) error {
	if id == "" || len(id) > MaxInstanceLen {
		return field.Errorf("", "has %d characters", len(id)).WithFix("%s", instanceFix)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !alnum(c) && !strings.ContainsRune(":_.@-", rune(c)) {
			return field.Errorf("", "%q holds %q", id, rune(c)).WithFix("%s", instanceFix)
		}
	}
	return nil
}

// CheckLabel reports whether key=value is a label.
func CheckLabel(key, value string) error {
	if key == "" || len(key) > MaxLabelKeyLen || key[0] < 'a' || key[0] > 'z' {
		return field.Errorf("", "label key %q must start with a-z and have 1 to %d characters", key, MaxLabelKeyLen).WithFix("%s", labelFix)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return field.Errorf("", "label key %q holds %q", key, rune(c)).WithFix("%s", labelFix)
		}
	}
	if len(value) > MaxLabelValLen {
		return field.Errorf("", "label %s has a value of %d characters, more than %d", key, len(value), MaxLabelValLen).WithFix("%s", labelFix)
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; !alnum(c) && !strings.ContainsRune(":_.@/-", rune(c)) {
			return field.Errorf("", "label %s value %q holds %q", key, value, rune(c)).WithFix("%s", labelFix)
		}
	}
	return nil
}

// ParseLabel splits "key=value" and checks it.
func ParseLabel(s string) (key, value string, err error) {
	key, value, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", field.Errorf("", "%q is not KEY=VALUE", s).WithFix("%s", labelFix)
	}
	if err := CheckLabel(key, value); err != nil {
		return "", "", err
	}
	return key, value, nil
}

// ParseLabels parses repeated KEY=VALUE words into a map; a key given
// twice is an error.
func ParseLabels(words []string) (map[string]string, error) {
	if len(words) == 0 {
		return nil, nil
	}
	if len(words) > MaxLabels {
		return nil, field.Errorf("", "%d labels, more than %d", len(words), MaxLabels).WithFix("use at most %d", MaxLabels)
	}
	out := make(map[string]string, len(words))
	for _, w := range words {
		k, v, err := ParseLabel(w)
		if err != nil {
			return nil, err
		}
		if _, dup := out[k]; dup {
			return nil, field.Errorf("", "label %s is given twice", k).WithFix("give each key once")
		}
		out[k] = v
	}
	return out, nil
}

// CheckLabels checks a map of labels, as a registration carries them.
func CheckLabels(labels map[string]string) error {
	if len(labels) > MaxLabels {
		return field.Errorf("", "%d labels, more than %d", len(labels), MaxLabels).WithFix("use at most %d", MaxLabels)
	}
	for k, v := range labels {
		if err := CheckLabel(k, v); err != nil {
			return err
		}
	}
	return nil
}

// Match reports whether labels satisfy every KEY=VALUE of on (already
// checked); no constraint matches every instance.
func Match(labels map[string]string, on []string) bool {
	for _, c := range on {
		k, v, _ := strings.Cut(c, "=")
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}
