package validation

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones for spec.timeZone, whatever the host has
)

// cronField is the range and names of one field of a cron schedule.
type cronField struct {
	name     string
	min, max int
	names    map[string]int // upper case
}

var cronFields = []cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: map[string]int{
		"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
		"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
	}},
	{name: "day of week", min: 0, max: 6, names: map[string]int{
		"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6,
	}},
}

var cronDescriptors = map[string]bool{
	"@yearly": true, "@annually": true, "@monthly": true, "@weekly": true,
	"@daily": true, "@midnight": true, "@hourly": true,
}

// parseCron checks a standard five-field cron schedule, as CronJob accepts
// it: "*", "?" (day fields), values, names (months, weekdays), ranges
// "a-b", lists "a,b" and steps "*/n" or "a-b/n" or "a/n"; or a descriptor
// such as "@daily" or "@every 1h30m".
func parseCron(spec string) error {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return fmt.Errorf("empty spec string")
	}
	if strings.HasPrefix(spec, "@") {
		if every, ok := strings.CutPrefix(spec, "@every "); ok {
			d, err := time.ParseDuration(strings.TrimSpace(every))
			if err != nil {
				return fmt.Errorf("failed to parse duration %s: %v", every, err)
			}
			if d <= 0 {
				return fmt.Errorf("duration must be positive: %s", every)
			}
			return nil
		}
		if !cronDescriptors[spec] {
			return fmt.Errorf("unrecognized descriptor: %s", spec)
		}
		return nil
	}
	fields := strings.Fields(spec)
	if len(fields) != len(cronFields) {
		return fmt.Errorf("expected exactly %d fields, found %d: %s", len(cronFields), len(fields), spec)
	}
	for i, f := range fields {
		if err := cronFields[i].parse(f); err != nil {
			return err
		}
	}
	return nil
}

func (cf cronField) parse(s string) error {
	for _, item := range strings.Split(s, ",") {
		if err := cf.parseItem(item); err != nil {
			return err
		}
	}
	return nil
}

func (cf cronField) parseItem(item string) error {
	rng, step, hasStep := strings.Cut(item, "/")
	if hasStep {
		n, err := strconv.Atoi(step)
		if err != nil || n <= 0 {
			return fmt.Errorf("invalid step %q in %s field", step, cf.name)
		}
	}
	if rng == "*" || (rng == "?" && (cf.name == "day of month" || cf.name == "day of week")) {
		return nil
	}
	lo, hi, isRange := strings.Cut(rng, "-")
	a, err := cf.value(lo)
	if err != nil {
		return err
	}
	if !isRange {
		return nil
	}
	b, err := cf.value(hi)
	if err != nil {
		return err
	}
	if a > b {
		return fmt.Errorf("beginning of range (%d) beyond end of range (%d): %s", a, b, item)
	}
	return nil
}

func (cf cronField) value(s string) (int, error) {
	if v, ok := cf.names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("failed to parse int from %s: %v", s, err)
	}
	if v < cf.min || v > cf.max {
		return 0, fmt.Errorf("%s value (%d) out of range [%d, %d]", cf.name, v, cf.min, cf.max)
	}
	return v, nil
}
