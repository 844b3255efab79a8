/**
 * CSRF defence for mutating requests (every method but GET and HEAD): the
 * request must prove it comes from a page of the dashboard itself.
 *
 * Rule, in order:
 * 1. `Origin` present: it must be one of the allowed origins (`null` never is).
 * 2. No `Origin` but `Sec-Fetch-Site`: it must be `same-origin`.
 * 3. Neither: `Referer` must be present and its origin allowed.
 * Otherwise the request is refused. Browsers send `Origin` on every
 * non-GET/HEAD request, so the board's own XHRs pass rule 1; a script or curl
 * must send `Origin: <the dashboard's origin>` itself.
 *
 * Allowed origins: DASHBOARD_ORIGINS when set; else the origin the request
 * was addressed to (`http://<Host>` or `https://<Host>`). A cross-site form
 * or fetch carries the attacker's origin, and browsers do not let a page set
 * Origin, Sec-Fetch-Site or Host.
 */

export interface SameOriginRequest {
  headers: Record<string, string | string[] | undefined>;
  /** The Host header fastify read (`request.host`). */
  host: string;
}

/** undefined when the request is same-origin, else the reason it is refused. */
export function sameOriginProblem(
  request: SameOriginRequest,
  configuredOrigins: readonly string[],
): string | undefined {
  const allowed =
    configuredOrigins.length > 0
      ? configuredOrigins
      : request.host === ''
        ? []
        : [`http://${request.host}`, `https://${request.host}`].map((o) => o.toLowerCase());
  const single = (name: string): string | undefined => {
    const value = request.headers[name];
    return Array.isArray(value) ? undefined : value;
  };
  const isAllowed = (origin: string): boolean => allowed.includes(origin.toLowerCase());

  const origin = single('origin');
  if (origin !== undefined) {
    return isAllowed(origin)
      ? undefined
      : `Origin ${JSON.stringify(origin)} is not the dashboard's`;
  }
  const fetchSite = single('sec-fetch-site');
  if (fetchSite !== undefined) {
    return fetchSite === 'same-origin'
      ? undefined
      : `Sec-Fetch-Site is ${JSON.stringify(fetchSite)}, not same-origin`;
  }
  const referer = single('referer');
  if (referer !== undefined) {
    let refererOrigin: string | undefined;
    try {
      refererOrigin = new URL(referer).origin;
    } catch {
      refererOrigin = undefined;
    }
    if (refererOrigin !== undefined && isAllowed(refererOrigin)) return undefined;
    return 'Referer is not a page of the dashboard';
  }
  return 'a mutating request must carry an Origin header naming the dashboard';
}
