// Where a FluxNode is, and what an app's geolocation constraint asks for: one format for both.
// A region is a continent code, optionally followed by an ISO 3166-1 alpha-2 country code:
// `EU`, `EU-DE`, `NA-US`. The continent comes first because two-letter continent and country
// codes collide (NA is also Namibia, AS American Samoa, SA Saudi Arabia, AF Afghanistan).
// A node declares one region (or none); an app lists regions, and a node matches an entry when
// its region is that entry or lies inside it (`EU-DE` matches `EU` and `EU-DE`, not `EU-FR`).

/** Continent codes: Africa, Antarctica, Asia, Europe, North America, Oceania, South America. */
export const CONTINENTS = ['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA'] as const;

export const REGION_PATTERN = /^(AF|AN|AS|EU|NA|OC|SA)(-[A-Z]{2})?$/;

export const REGION_RULE = `a region is a continent (${CONTINENTS.join(', ')}), optionally followed by an ISO 3166-1 alpha-2 country code, like EU or EU-DE`;

/** Why `region` is not a region, or undefined when it is one. */
export function regionError(region: string): string | undefined {
  if (REGION_PATTERN.test(region)) return undefined;
  return `${JSON.stringify(region.slice(0, 16))} is not a region: ${REGION_RULE}`;
}

/** A node in `nodeRegion` satisfies the constraint `wanted` (both valid regions; '' is no region). */
export function regionMatches(nodeRegion: string, wanted: string): boolean {
  return (
    nodeRegion !== '' &&
    (nodeRegion === wanted || (nodeRegion.length > wanted.length && nodeRegion.startsWith(`${wanted}-`)))
  );
}

/** A node in `nodeRegion` satisfies an app that lists `wanted` (any entry); no list: anywhere. */
export function inAnyRegion(nodeRegion: string, wanted: readonly string[] | undefined): boolean {
  if (!wanted) return true;
  for (const w of wanted) if (regionMatches(nodeRegion, w)) return true;
  return false;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The region a node record or start payload holds ('' when undeclared); bytes that are not ASCII give ''. */
export function regionOf(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    return '';
  }
}
