// The host's resolver configuration (resolv.conf(5)): nameservers and the
// search list. Parsing is pure; reading the file happens once at start-up.
import fs from 'node:fs';
import { ipFamily } from '../wire/ip.js';

export interface Resolv {
  nameservers: string[];
  search: string[];
}

export function parseResolv(text: string): Resolv {
  const nameservers: string[] = [];
  let search: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0]) {
      const addr = rest[0].replace(/%.*$/, '');
      if (ipFamily(addr)) nameservers.push(addr);
    } else if (key === 'search' || key === 'domain') {
      search = rest.filter((d) => d.length > 0 && d.length < 254); // the last one wins, as in the resolver
    }
  }
  return { nameservers, search };
}

export function readResolv(path = '/etc/resolv.conf'): Resolv {
  try {
    return parseResolv(fs.readFileSync(path, 'utf8'));
  } catch {
    return { nameservers: [], search: [] };
  }
}
