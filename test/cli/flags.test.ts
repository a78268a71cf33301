import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FlagError, formatFlagUsages, parseFlags, type FlagSpec } from '../../src/cli/flags.ts';

// A cut-down `kamal-proxy deploy` flag set, with kamal-proxy's defaults.
const DEPLOY: readonly FlagSpec[] = [
  { name: 'target', type: 'stringSlice', default: [], usage: 'Target host(s) to deploy' },
  { name: 'host', type: 'stringSlice', default: [], usage: 'Host(s) to serve this target on' },
  { name: 'tls', type: 'bool', default: false, usage: 'Configure TLS for this target' },
  { name: 'forward-headers', type: 'bool', default: false, usage: 'Forward X-Forwarded headers' },
  { name: 'strip-path-prefix', type: 'bool', default: true, usage: 'Strip the path prefix' },
  { name: 'deploy-timeout', type: 'duration', default: 30_000, usage: 'Maximum time to wait' },
  { name: 'health-check-path', type: 'string', default: '/up', usage: 'Path to check for health' },
  { name: 'health-check-port', type: 'int', default: 0, usage: 'Port for health checks' },
  { name: 'buffer-memory', type: 'int64', default: 1_048_576, usage: 'Max size of memory buffer' },
  { name: 'log-request-header', type: 'stringSlice', default: [], usage: 'Request header to log' },
  { name: 'message', type: 'string', default: '', usage: 'Message to show' },
];

const RUN: readonly FlagSpec[] = [
  { name: 'http-port', type: 'int', default: 80, usage: 'Port to serve HTTP traffic on', shorthand: 'p' },
  { name: 'debug', type: 'bool', default: false, usage: 'Include debug logging', shorthand: 'd' },
  { name: 'verbose', type: 'bool', default: false, usage: 'More logging', shorthand: 'v' },
  { name: 'name', type: 'string', default: '', usage: 'A name', shorthand: 'n' },
];

function flagError(argv: string[], specs: readonly FlagSpec[], message: string): void {
  assert.throws(() => parseFlags(argv, specs), (error: unknown) => {
    assert.ok(error instanceof FlagError, `expected a FlagError, got ${String(error)}`);
    assert.equal(error.message, message);
    return true;
  });
}

describe('parseFlags: the argv Kamal 2.12 sends', () => {
  it('parses a real deploy line (quotes already removed by the shell)', () => {
    const parsed = parseFlags(
      [
        'app-web',
        '--target=123abc456def:3000',
        '--host=example.com',
        '--tls',
        '--deploy-timeout=30s',
        '--buffer-memory=1048576',
        '--forward-headers=false',
        '--log-request-header=Cache-Control',
        '--log-request-header=Last-Modified',
        '--log-request-header=User-Agent',
      ],
      DEPLOY,
    );
    assert.deepEqual(parsed.args, ['app-web']);
    assert.deepEqual(parsed.values.target, ['123abc456def:3000']);
    assert.deepEqual(parsed.values.host, ['example.com']);
    assert.equal(parsed.values.tls, true);
    assert.equal(parsed.values['deploy-timeout'], 30_000);
    assert.equal(parsed.values['buffer-memory'], 1_048_576);
    assert.equal(parsed.values['forward-headers'], false);
    assert.deepEqual(parsed.values['log-request-header'], ['Cache-Control', 'Last-Modified', 'User-Agent']);
    assert.deepEqual(
      [...parsed.given].sort(),
      ['buffer-memory', 'deploy-timeout', 'forward-headers', 'host', 'log-request-header', 'target', 'tls'],
    );
  });

  it('fills every flag with its default when not given, and keeps given empty', () => {
    const parsed = parseFlags(['svc'], DEPLOY);
    assert.deepEqual(parsed.values, {
      target: [],
      host: [],
      tls: false,
      'forward-headers': false,
      'strip-path-prefix': true,
      'deploy-timeout': 30_000,
      'health-check-path': '/up',
      'health-check-port': 0,
      'buffer-memory': 1_048_576,
      'log-request-header': [],
      message: '',
    });
    assert.equal(parsed.given.size, 0);
  });

  it('marks a flag given even when set to its default value', () => {
    const parsed = parseFlags(['--forward-headers=false', '--deploy-timeout=30s'], DEPLOY);
    assert.ok(parsed.given.has('forward-headers'));
    assert.ok(parsed.given.has('deploy-timeout'));
  });

  it('splits one --host occurrence as CSV', () => {
    assert.deepEqual(parseFlags(['--host=a.com,b.com'], DEPLOY).values.host, ['a.com', 'b.com']);
  });

  it('parses the maintenance (`stop`) line with a message containing spaces and commas', () => {
    const parsed = parseFlags(['app-web', '--drain-timeout=30s', '--message=Down, briefly'], [
      ...DEPLOY,
      { name: 'drain-timeout', type: 'duration', default: 30_000, usage: '' },
    ]);
    assert.equal(parsed.values.message, 'Down, briefly');
    assert.equal(parsed.values['drain-timeout'], 30_000);
  });
});

describe('parseFlags: long flags', () => {
  it('takes the value from the next word for non-bools', () => {
    const parsed = parseFlags(['--target', 'a:1', 'svc', '--health-check-path', '/health'], DEPLOY);
    assert.deepEqual(parsed.values.target, ['a:1']);
    assert.equal(parsed.values['health-check-path'], '/health');
    assert.deepEqual(parsed.args, ['svc']);
  });

  it('takes the next word even when it looks like a flag, as pflag does', () => {
    const parsed = parseFlags(['--message', '--tls'], DEPLOY);
    assert.equal(parsed.values.message, '--tls');
    assert.equal(parsed.values.tls, false);
  });

  it('splits --name=value at the first "=" only', () => {
    assert.equal(parseFlags(['--message=a=b'], DEPLOY).values.message, 'a=b');
    assert.equal(parseFlags(['--message='], DEPLOY).values.message, '');
  });

  it('never gives a bool the following word: `--tls false` leaves `false` positional', () => {
    const parsed = parseFlags(['svc', '--tls', 'false'], DEPLOY);
    assert.equal(parsed.values.tls, true);
    assert.deepEqual(parsed.args, ['svc', 'false']);
  });

  it('accepts every strconv.ParseBool spelling after "="', () => {
    for (const text of ['1', 't', 'T', 'TRUE', 'true', 'True']) {
      assert.equal(parseFlags([`--strip-path-prefix=${text}`], DEPLOY).values['strip-path-prefix'], true, text);
    }
    for (const text of ['0', 'f', 'F', 'FALSE', 'false', 'False']) {
      assert.equal(parseFlags([`--strip-path-prefix=${text}`], DEPLOY).values['strip-path-prefix'], false, text);
    }
  });

  it('lets the last occurrence of a scalar flag win', () => {
    const parsed = parseFlags(['--deploy-timeout=1s', '--deploy-timeout=1m30s', '--tls', '--tls=false'], DEPLOY);
    assert.equal(parsed.values['deploy-timeout'], 90_000);
    assert.equal(parsed.values.tls, false);
  });

  it('intersperses positionals with flags and stops at `--`', () => {
    const parsed = parseFlags(['a', '--tls', 'b', '--', '--host=x', '-p', 'c'], DEPLOY);
    assert.deepEqual(parsed.args, ['a', 'b', '--host=x', '-p', 'c']);
    assert.deepEqual(parsed.values.host, []);
  });

  it('treats "-" and "" as positionals', () => {
    assert.deepEqual(parseFlags(['-', '', 'x'], DEPLOY).args, ['-', '', 'x']);
  });

  it('does not handle help itself', () => {
    flagError(['--help'], DEPLOY, 'unknown flag: --help');
    flagError(['-h'], DEPLOY, "unknown shorthand flag: 'h' in -h");
    const withHelp = [...DEPLOY, { name: 'help', type: 'bool', default: false, usage: 'help', shorthand: 'h' } as const];
    assert.equal(parseFlags(['-h'], withHelp).values.help, true);
    assert.equal(parseFlags(['--help'], withHelp).values.help, true);
  });

  it('does not mutate the spec defaults', () => {
    const specs: FlagSpec[] = [{ name: 'list', type: 'stringSlice', default: ['a'], usage: '' }];
    parseFlags(['--list=b'], specs);
    const second = parseFlags([], specs);
    assert.deepEqual(specs[0]!.default, ['a']);
    assert.deepEqual(second.values.list, ['a']);
    assert.notEqual(second.values.list, specs[0]!.default);
  });
});

describe('parseFlags: stringSlice', () => {
  const LIST: readonly FlagSpec[] = [{ name: 'list', type: 'stringSlice', default: ['default'], usage: '' }];
  const list = (...argv: string[]): unknown => parseFlags(argv, LIST).values.list;

  it('replaces the default on the first occurrence and appends after that', () => {
    assert.deepEqual(list(), ['default']);
    assert.deepEqual(list('--list=a'), ['a']);
    assert.deepEqual(list('--list=a', '--list', 'b,c', '--list=d'), ['a', 'b', 'c', 'd']);
  });

  it('gives [] for an empty occurrence, which still replaces the default', () => {
    assert.deepEqual(list('--list='), []);
    assert.deepEqual(list('--list=', '--list=a'), ['a']);
    assert.deepEqual(list('--list=a', '--list='), ['a']);
    assert.ok(parseFlags(['--list='], LIST).given.has('list'));
  });

  it('reads each occurrence as one encoding/csv record', () => {
    assert.deepEqual(list('--list="a,b",c'), ['a,b', 'c']);
    assert.deepEqual(list('--list="say ""hi""",x'), ['say "hi"', 'x']);
    assert.deepEqual(list('--list=a,'), ['a', '']);
    assert.deepEqual(list('--list=,'), ['', '']);
    assert.deepEqual(list('--list= a , b'), [' a ', ' b']); // no trimming
    assert.deepEqual(list('--list=""'), ['']);
    assert.deepEqual(list('--list=a\r'), ['a']); // a trailing CR before the end is dropped
    assert.deepEqual(list('--list=a\rb'), ['a\rb']);
  });

  it('reads only the first line, skipping leading blank lines; quoted fields may span lines', () => {
    assert.deepEqual(list('--list=a,b\nc,d'), ['a', 'b']);
    assert.deepEqual(list('--list=\n\na'), ['a']);
    assert.deepEqual(list('--list="a\r\nb",c\nd'), ['a\nb', 'c']);
  });

  it('fails with encoding/csv errors (1-based byte columns)', () => {
    const fail = (value: string, message: string): void =>
      flagError([`--list=${value}`], LIST, `invalid argument ${JSON.stringify(value)} for "--list" flag: ${message}`);
    fail('a""b,c', 'parse error on line 1, column 2: bare " in non-quoted-field');
    fail('a "word","b"', 'parse error on line 1, column 3: bare " in non-quoted-field');
    fail('"a word",b"', 'parse error on line 1, column 11: bare " in non-quoted-field');
    fail('"a "word","b"', 'parse error on line 1, column 4: extraneous or missing " in quoted-field');
    fail('"abc', 'parse error on line 1, column 5: extraneous or missing " in quoted-field');
    fail('é"', 'parse error on line 1, column 3: bare " in non-quoted-field');
    fail('a,"b\nc"d,e', 'record on line 1; parse error on line 2, column 2: extraneous or missing " in quoted-field');
    fail('"field"\r\r', 'parse error on line 1, column 7: extraneous or missing " in quoted-field');
  });

  it('reports input holding only blank lines as EOF, as Go does', () => {
    flagError(['--list=\n'], LIST, 'invalid argument "\\n" for "--list" flag: EOF');
  });
});

describe('parseFlags: int and int64 follow strconv.ParseInt(s, 0, 64)', () => {
  const port = (text: string): unknown => parseFlags([`--health-check-port=${text}`], DEPLOY).values['health-check-port'];

  it('accepts signs, base prefixes, leading-zero octal and Go underscores', () => {
    const cases: Array<[string, number]> = [
      ['8080', 8080],
      ['+5', 5],
      ['-5', -5],
      ['0', 0],
      ['-0', 0],
      ['0x1F', 31],
      ['0X1f', 31],
      ['0o17', 15],
      ['0O17', 15],
      ['017', 15],
      ['0b101', 5],
      ['-0x10', -16],
      ['0x_1F', 31],
      ['1_000', 1000],
      ['0_7', 7],
      ['9007199254740991', 9_007_199_254_740_991],
      ['-9223372036854775808', -9_223_372_036_854_775_808],
    ];
    for (const [text, value] of cases) assert.equal(port(text), value, text);
    assert.ok(Object.is(port('-0'), 0));
  });

  it('rejects malformed numbers with the strconv message', () => {
    for (const text of ['x', '', ' 1', '1.5', '08', '0x', '0b2', '_1', '1_', '1__0', '0x_', '--1', '1e3', '٣']) {
      flagError(
        [`--health-check-port=${text}`],
        DEPLOY,
        `invalid argument ${JSON.stringify(text)} for "--health-check-port" flag: strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax`,
      );
    }
  });

  it('reports int64 overflow as out of range', () => {
    for (const text of ['9223372036854775808', '-9223372036854775809', '99999999999999999999', '0x10000000000000000']) {
      flagError(
        [`--buffer-memory=${text}`],
        DEPLOY,
        `invalid argument "${text}" for "--buffer-memory" flag: strconv.ParseInt: parsing "${text}": value out of range`,
      );
    }
    // Go stops at the overflow before it sees the bad character.
    flagError(
      ['--buffer-memory=99999999999999999999x'],
      DEPLOY,
      'invalid argument "99999999999999999999x" for "--buffer-memory" flag: strconv.ParseInt: parsing "99999999999999999999x": value out of range',
    );
  });
});

describe('parseFlags: shorthands', () => {
  it('accepts -x value, -xvalue and -x=value', () => {
    assert.equal(parseFlags(['-p', '8080'], RUN).values['http-port'], 8080);
    assert.equal(parseFlags(['-p8080'], RUN).values['http-port'], 8080);
    assert.equal(parseFlags(['-p=8080'], RUN).values['http-port'], 8080);
    assert.equal(parseFlags(['-n='], RUN).values.name, '='); // `-x=` with nothing after is the value "="
  });

  it('combines bool shorthands, with the last letter allowed a value', () => {
    const parsed = parseFlags(['-dv', '-dp', '81'], RUN);
    assert.equal(parsed.values.debug, true);
    assert.equal(parsed.values.verbose, true);
    assert.equal(parsed.values['http-port'], 81);
    assert.equal(parseFlags(['-dp82'], RUN).values['http-port'], 82);
    assert.equal(parseFlags(['-d=false'], RUN).values.debug, false);
  });

  it('records the long name as given', () => {
    assert.deepEqual([...parseFlags(['-d'], RUN).given], ['debug']);
  });

  it('names both spellings in value errors, as pflag does', () => {
    flagError(['-p', 'x'], RUN, 'invalid argument "x" for "-p, --http-port" flag: strconv.ParseInt: parsing "x": invalid syntax');
    flagError(['--http-port=x'], RUN, 'invalid argument "x" for "-p, --http-port" flag: strconv.ParseInt: parsing "x": invalid syntax');
    flagError(['-d=maybe'], RUN, 'invalid argument "maybe" for "-d, --debug" flag: strconv.ParseBool: parsing "maybe": invalid syntax');
  });

  it('reports unknown letters and missing values with the remaining letters', () => {
    flagError(['-x'], RUN, "unknown shorthand flag: 'x' in -x");
    flagError(['-dx'], RUN, "unknown shorthand flag: 'x' in -x");
    flagError(['-xd'], RUN, "unknown shorthand flag: 'x' in -xd");
    flagError(['-d='], RUN, "unknown shorthand flag: '=' in -=");
    flagError(["-'"], RUN, "unknown shorthand flag: '\\'' in -'");
    flagError(['-5'], RUN, "unknown shorthand flag: '5' in -5");
    flagError(['-p'], RUN, "flag needs an argument: 'p' in -p");
    flagError(['-dp'], RUN, "flag needs an argument: 'p' in -p");
  });
});

describe('parseFlags: errors', () => {
  it('uses pflag wording for flag-level problems', () => {
    flagError(['--foo'], DEPLOY, 'unknown flag: --foo');
    flagError(['--foo=bar'], DEPLOY, 'unknown flag: --foo');
    flagError(['--target'], DEPLOY, 'flag needs an argument: --target');
    flagError(['svc', '--deploy-timeout'], DEPLOY, 'flag needs an argument: --deploy-timeout');
    flagError(['---tls'], DEPLOY, 'bad flag syntax: ---tls');
    flagError(['--=x'], DEPLOY, 'bad flag syntax: --=x');
  });

  it('wraps value errors with the value and flag quoted Go-style', () => {
    flagError(
      ['--deploy-timeout=abc'],
      DEPLOY,
      'invalid argument "abc" for "--deploy-timeout" flag: time: invalid duration "abc"',
    );
    flagError(
      ['--deploy-timeout=30'],
      DEPLOY,
      'invalid argument "30" for "--deploy-timeout" flag: time: missing unit in duration "30"',
    );
    flagError(
      ['--deploy-timeout', '30x'],
      DEPLOY,
      'invalid argument "30x" for "--deploy-timeout" flag: time: unknown unit "x" in duration "30x"',
    );
    flagError(
      ['--tls=maybe'],
      DEPLOY,
      'invalid argument "maybe" for "--tls" flag: strconv.ParseBool: parsing "maybe": invalid syntax',
    );
    flagError(['--tls='], DEPLOY, 'invalid argument "" for "--tls" flag: strconv.ParseBool: parsing "": invalid syntax');
    flagError(
      ['--health-check-port=x'],
      DEPLOY,
      'invalid argument "x" for "--health-check-port" flag: strconv.ParseInt: parsing "x": invalid syntax',
    );
  });

  it('escapes odd characters the way strconv.Quote does', () => {
    flagError(
      ['--tls=a"b\\c\td\x07é\u00a0\u{1F600}\x7f'],
      DEPLOY,
      'invalid argument "a\\"b\\\\c\\td\\aé\\u00a0\u{1F600}\\x7f" for "--tls" flag: ' +
        'strconv.ParseBool: parsing "a\\"b\\\\c\\td\\aé\\u00a0\u{1F600}\\x7f": invalid syntax',
    );
  });

  it('rejects duplicate specs as a programming error', () => {
    assert.throws(() => parseFlags([], [RUN[0]!, RUN[0]!]), (error: unknown) => !(error instanceof FlagError));
  });
});

describe('formatFlagUsages', () => {
  it('renders pflag FlagUsages: sorted, aligned, types and non-zero defaults', () => {
    const specs: FlagSpec[] = [
      { name: 'tls', type: 'bool', default: false, usage: 'Configure TLS' },
      { name: 'target', type: 'stringSlice', default: [], usage: 'Target host(s) to deploy' },
      { name: 'deploy-timeout', type: 'duration', default: 30_000, usage: 'Maximum time to wait' },
      { name: 'health-check-path', type: 'string', default: '/up', usage: 'Path to check' },
      { name: 'health-check-port', type: 'int', default: 0, usage: 'Port to check' },
      { name: 'buffer-memory', type: 'int64', default: 1_048_576, usage: 'Max memory buffer' },
      { name: 'strip-path-prefix', type: 'bool', default: true, usage: 'Strip the prefix' },
      { name: 'help', type: 'bool', default: false, usage: 'help for deploy', shorthand: 'h' },
      { name: 'list', type: 'stringSlice', default: ['a', 'b c', 'd,e'], usage: 'A list' },
      { name: 'message', type: 'string', default: '', usage: 'Message' },
      { name: 'drain-timeout', type: 'duration', default: 0, usage: 'Drain' },
    ];
    assert.equal(
      formatFlagUsages(specs),
      [
        '      --buffer-memory int          Max memory buffer (default 1048576)',
        '      --deploy-timeout duration    Maximum time to wait (default 30s)',
        '      --drain-timeout duration     Drain',
        '      --health-check-path string   Path to check (default "/up")',
        '      --health-check-port int      Port to check',
        '  -h, --help                       help for deploy',
        '      --list strings               A list (default [a,b c,"d,e"])',
        '      --message string             Message',
        '      --strip-path-prefix          Strip the prefix (default true)',
        '      --target strings             Target host(s) to deploy',
        '      --tls                        Configure TLS',
        '',
      ].join('\n'),
    );
  });

  it('uses a back-quoted word in the usage as the value name', () => {
    const specs: FlagSpec[] = [{ name: 'error-pages', type: 'string', default: '', usage: 'Path to a `dir` of pages' }];
    assert.equal(formatFlagUsages(specs), '      --error-pages dir   Path to a dir of pages\n');
  });

  it('indents continuation lines of a multi-line usage under the usage column', () => {
    const specs: FlagSpec[] = [{ name: 'x', type: 'bool', default: true, usage: 'one\ntwo' }];
    assert.equal(formatFlagUsages(specs), '      --x   one\n            two (default true)\n');
  });

  it('quotes string defaults with strconv.Quote and slice elements with csv rules', () => {
    const specs: FlagSpec[] = [
      { name: 's', type: 'string', default: 'a"b', usage: 'u' },
      { name: 'l', type: 'stringSlice', default: [' lead', 'q"x'], usage: 'u' },
    ];
    assert.equal(
      formatFlagUsages(specs),
      '      --l strings   u (default [" lead","q""x"])\n      --s string    u (default "a\\"b")\n',
    );
  });

  it('renders nothing for no flags', () => {
    assert.equal(formatFlagUsages([]), '');
  });
});
