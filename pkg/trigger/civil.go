package trigger

// Proleptic Gregorian calendar arithmetic on plain integers. The cron search
// works on "wall seconds" (the local clock reading counted as if it were UTC
// seconds since 1970) so that it can step by day, month and year without
// allocating time.Time values or touching the zone database.

const secondsPerDay = 86400

// daysFromCivil returns the day number (days since 1970-01-01) of y-m-d.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(int64(y), 400)
	yoe := int64(y) - era*400
	mp := int64(m+9) % 12
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	yy := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	m = int(mp+2)%12 + 1
	if m <= 2 {
		yy++
	}
	return int(yy), m, d
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// weekdayOf returns the weekday of day number z with Sunday = 0, as
// time.Weekday does.
func weekdayOf(z int64) int {
	w := (z + 4) % 7 // 1970-01-01 was a Thursday
	if w < 0 {
		w += 7
	}
	return int(w)
}

// isoWeekOf returns the ISO 8601 week number (1-53) of day number z.
func isoWeekOf(z int64) int {
	isoWd := (weekdayOf(z)+6)%7 + 1 // Monday = 1 … Sunday = 7
	thu := z - int64(isoWd-1) + 3
	ty, _, _ := civilFromDays(thu)
	return int((thu-daysFromCivil(ty, 1, 1))/7) + 1
}
