// Where apps answer, as both the node's ingress and its callers (`flux app url`) see it: the
// default port and domain of every node's ingress, and the host part of a FluxNode endpoint.

export const DEFAULT_INGRESS_DOMAIN = 'flux.localhost';
export const DEFAULT_INGRESS_PORT = 16180;

/** The host of a FluxNode endpoint `host:port` (an IPv6 host without its brackets). */
export function hostOfEndpoint(endpoint: string): string {
  const at = endpoint.lastIndexOf(':');
  const host = at < 0 ? endpoint : endpoint.slice(0, at);
  return host.replace(/^\[(.*)\]$/, '$1');
}
