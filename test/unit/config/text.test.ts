import { describe, expect, it } from 'vitest';
import { editText } from '../../../src/config/text.js';
import { ConfigEditError } from '../../../src/config/config-edit-error.js';

const MODULE = `TypeOrmModule.forRoot({
  type: 'postgres',
  database: 'cloudphone_core',
}),
// fallback: 'cloudphone_core'
`;

describe('editText', () => {
  it('replaces every literal occurrence and nothing else', () => {
    const out = editText(MODULE, "'cloudphone_core'", "'cloudphone_user'");
    expect(out).toBe(MODULE.replaceAll("'cloudphone_core'", "'cloudphone_user'"));
    expect(out.match(/cloudphone_user/g)).toHaveLength(2);
  });

  it('treats $ and regex characters literally', () => {
    expect(editText('a.b $1 a.b', 'a.b', '$&x')).toBe('$&x $1 $&x');
  });

  it('handles unicode', () => {
    expect(editText('名前: データ', 'データ', 'ユーザー')).toBe('名前: ユーザー');
  });

  it('refuses text that does not occur, masking any password in the message', () => {
    let err: unknown;
    try {
      editText(MODULE, 'postgres://u:hunter2@h/db', 'x');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigEditError);
    expect((err as Error).message).toContain('does not occur');
    expect((err as Error).message).not.toContain('hunter2');
    expect(() => editText(MODULE, '', 'x')).toThrow(ConfigEditError);
  });
});
