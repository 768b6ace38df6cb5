/**
 * Kubernetes name rules the device configuration relies on, as `k8s.io/apimachinery`'s
 * `validation` package states them. Each check returns why a name is wrong, or `undefined`.
 */

/** Longest DNS-1123 subdomain (`validation.DNS1123SubdomainMaxLength`). */
const DNS1123_SUBDOMAIN_MAX = 253;
/** Longest name part of a qualified name (`validation.qualifiedNameMaxLength`). */
const QUALIFIED_NAME_MAX = 63;

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/**
 * Why `name` is not a DNS-1123 subdomain (node names, RuntimeClass names), or `undefined` if it
 * is one: lower-case alphanumerics, `-` and `.`, starting and ending alphanumeric, at most 253
 * characters.
 */
export function dns1123SubdomainProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > DNS1123_SUBDOMAIN_MAX) return `must be at most ${DNS1123_SUBDOMAIN_MAX} characters`;
  if (!DNS1123_SUBDOMAIN.test(name)) {
    return 'must be a DNS-1123 subdomain (lower-case letters, digits, "-" and ".", starting and ending with a letter or digit)';
  }
  return undefined;
}

/**
 * Why `name` is not a Kubernetes extended resource name, or `undefined` if it is one.
 *
 * The rules are `IsExtendedResourceName` (`k8s.io/kubernetes/pkg/apis/core/helper`): a qualified
 * name `<domain>/<name>` whose domain is a DNS-1123 subdomain outside `kubernetes.io` (names
 * without a domain or in `kubernetes.io` are native resources), whose name part is at most 63
 * characters of alphanumerics, `-`, `_` and `.`, and for which `requests.<domain>/<name>` is
 * still a qualified name (the quota form), which caps the domain at 244 characters.
 *
 * @example `nvidia.com/gpumem` is valid; `gpumem`, `Nvidia.com/gpu` and `kubernetes.io/gpu` are not.
 */
export function extendedResourceNameProblem(name: string): string | undefined {
  const slash = name.indexOf('/');
  if (slash < 0) return 'must be an extended resource name <domain>/<name>: the domain is missing';
  if (name.indexOf('/', slash + 1) >= 0) return 'must be an extended resource name <domain>/<name> with one "/"';
  const domain = name.slice(0, slash);
  const local = name.slice(slash + 1);
  const domainProblem = dns1123SubdomainProblem(domain);
  if (domainProblem !== undefined) return `must be an extended resource name <domain>/<name>: the domain ${domainProblem}`;
  if (domain === 'kubernetes.io' || domain.endsWith('.kubernetes.io')) {
    return 'must be an extended resource name: the kubernetes.io domain is reserved for native resources';
  }
  if (`requests.${domain}`.length > DNS1123_SUBDOMAIN_MAX) {
    return `must be an extended resource name: the domain must be at most ${DNS1123_SUBDOMAIN_MAX - 'requests.'.length} characters`;
  }
  if (local.length === 0) return 'must be an extended resource name <domain>/<name>: the name is missing';
  if (local.length > QUALIFIED_NAME_MAX) {
    return `must be an extended resource name: the name after "/" must be at most ${QUALIFIED_NAME_MAX} characters`;
  }
  if (!QUALIFIED_NAME_PART.test(local)) {
    return (
      'must be an extended resource name: the name after "/" may hold only letters, digits, "-", "_" and ".", ' +
      'and must start and end with a letter or digit'
    );
  }
  return undefined;
}
