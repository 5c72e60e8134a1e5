import { Document, isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from 'yaml';
import { DEFAULT_CONTROL_DATABASE } from '../manifest/validate.js';
import { droppedKeyComments, groupComments } from './group-comments.js';
import { passwordVariable } from './naming.js';
import type { SplitProposal } from './propose-split.js';

/** Comment text as the `yaml` package wants it: each line starts with a space after the `#` it adds. */
const comment = (lines: readonly string[]): string => lines.map((l) => ` ${l}`).join('\n');

function pairOf(map: unknown, key: string): Pair<Node, Node> {
  if (!isMap(map)) throw new Error(`expected a mapping holding ${key}`);
  const pair = (map as YAMLMap<Node, Node>).items.find((p) => isScalar(p.key) && p.key.value === key);
  if (!pair) throw new Error(`no key ${key} in the mapping`);
  return pair;
}

function keyNode(map: unknown, key: string): Node {
  return pairOf(map, key).key;
}

/**
 * The proposal as manifest YAML (SPEC §1), written with the `yaml` Document API
 * so every choice carries its reason as a comment: why each group's tables go
 * together, the foreign keys each service drops, why each ignored table or view
 * stays in the source. Never holds the source URL: `source.url` reads the
 * variable `proposal.sourceVariable`.
 */
export function renderManifest(proposal: SplitProposal, manifestFile: string): string {
  const services: Record<string, unknown> = {};
  for (const s of proposal.services) services[s.name] = { database: s.database, tables: s.tables };
  const body: Record<string, unknown> = {
    version: 1,
    name: proposal.name,
    source: { url: `\${${proposal.sourceVariable}}`, schemas: proposal.schemas },
    mode: 'offline',
    retention: { days: 7 },
    services,
  };
  if (proposal.ignore.length > 0) body.ignore = proposal.ignore.map((i) => i.name);
  const doc = new Document(body);
  const root = doc.contents;

  doc.commentBefore = comment([
    `A starting manifest for splitting ${proposal.database} (schemas: ${proposal.schemas.join(', ')}) into one database per service,`,
    'proposed by `cloudphone-split init` from its foreign keys and table names. Review it: move tables',
    `between services, rename services and databases, then run: cloudphone-split plan -m ${manifestFile}`,
    'A foreign key between two services cannot be kept: each service lists the ones it drops.',
    "To keep a column of another service's table, add `denormalize` to the service (see the README).",
  ]);
  const source = pairOf(root, 'source').value;
  pairOf(source, 'url').value!.comment = ` set ${proposal.sourceVariable} to the source database URL`;
  const schemas = pairOf(source, 'schemas').value;
  if (isSeq(schemas)) schemas.flow = true;
  keyNode(root, 'mode').commentBefore = comment([
    'control: { url: "${SPLIT_CONTROL_URL}" }   # where the journal lives;',
    `  by default the database ${DEFAULT_CONTROL_DATABASE} on the source server`,
  ]);
  pairOf(pairOf(root, 'retention').value, 'days').value!.comment = ' the old database is kept read-only this long';

  const servicesNode = pairOf(root, 'services').value;
  proposal.services.forEach((s, i) => {
    const pair = pairOf(servicesNode, s.name);
    pair.key.commentBefore = comment(groupComments(s));
    // A blank line before the first entry of a nested mapping would be printed indented.
    if (i > 0) pair.key.spaceBefore = true;
    const role = `${s.database.slice(0, 59)}_svc`;
    keyNode(pair.value, 'tables').commentBefore = comment([
      `role: { name: ${role}, password: "\${${passwordVariable(s.group.key)}}" }   # optional login role owning the database`,
    ]);
    const drops = droppedKeyComments(s);
    if (drops.length > 0) pair.value!.comment = comment(drops);
  });
  keyNode(root, 'services').spaceBefore = true;

  if (proposal.ignore.length > 0) {
    const ignore = pairOf(root, 'ignore');
    ignore.key.spaceBefore = true;
    ignore.key.commentBefore = comment(['Left in the source: bookkeeping, leftovers, and views over several services.']);
    if (isSeq(ignore.value)) {
      ignore.value.items.forEach((item, i) => {
        if (isScalar(item)) item.comment = ` ${proposal.ignore[i]!.reason}`;
      });
    }
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
