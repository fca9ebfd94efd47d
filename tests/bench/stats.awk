# make bench: what the report scripts share. Values of a key are collected
# with add(); med() is their median, span() "min-max".
function median(list,    n, a, i, j, t) {
	n = split(list, a, " ")
	if (n == 0) return ""
	for (i = 2; i <= n; i++) {
		t = a[i] + 0
		for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]
		a[j + 1] = t
	}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function add(key, v) { L[key] = (key in L) ? L[key] " " v : v }
function med(key) { return (key in L) ? median(L[key]) : "" }
function span(key, fmt,    n, a, i, lo, hi) {
	if (!(key in L)) return "-"
	n = split(L[key], a, " "); lo = hi = a[1] + 0
	for (i = 2; i <= n; i++) { if (a[i] + 0 < lo) lo = a[i] + 0; if (a[i] + 0 > hi) hi = a[i] + 0 }
	return sprintf(fmt "-" fmt, lo, hi)
}
function num(v, fmt) { return v == "" ? "-" : sprintf(fmt, v) }
function thousands(v,    s, out) {
	if (v == "") return "-"
	s = sprintf("%d", v + 0.5); out = ""
	while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
	return s out
}
