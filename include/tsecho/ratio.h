/* How two servers differ over repeated, paired measurements (tsecho
 * compare): the ratio of a figure between them, with a confidence
 * interval, so that a difference can be told from noise.
 *
 * Repetition i measured both, one after the other (interleaved), giving
 * a[i] and b[i].  The ratio is the geometric mean of a[i] / b[i], and its
 * 95% interval is exp(m +- t * s / sqrt(n)), where m and s are the mean
 * and sample standard deviation of ln(a[i] / b[i]) and t is Student's t
 * quantile for 0.975 with n - 1 degrees of freedom.  Logarithms make the
 * interval symmetric for "twice as fast" and "half as fast"; pairing
 * removes the drift both of a repetition's measurements share.  Pure. */
#ifndef TSECHO_RATIO_H
#define TSECHO_RATIO_H

#include <stddef.h>

struct ts_ratio {
	size_t n;     /* pairs with both figures > 0 and finite */
	double ratio; /* geometric mean of a/b; 0 when n is 0 */
	double lo;    /* the 95% interval; equal to ratio when n < 2 */
	double hi;
	int has_interval; /* n >= 2 */
	/* The interval leaves out 1: a difference beyond the noise. */
	int significant;
};

/* Over the pairs (a[i], b[i]) for i < n; pairs where either is not a
 * finite number > 0 are left out. */
struct ts_ratio ts_ratio_of(const double *a, const double *b, size_t n);

/* Student's t quantile for 0.975 with df degrees of freedom (df >= 1;
 * from a table to 30, then the normal's 1.96 approached as 1/df). */
double ts_t975(size_t df);

#endif
