import { it } from 'vitest';
import { proposeSplit } from '../../../src/init/propose-split.js';
import { renderManifest } from '../../../src/init/render-manifest.js';
import { sampleLikeCatalog } from './sample-catalog.js';
it('prints', () => {
  const p = proposeSplit(sampleLikeCatalog(), ['public']);
  console.log(renderManifest(p, 'plans/split.yaml'));
});
