// Preloaded into the CLI (NODE_OPTIONS=--import …) by tests that need "later": moves the
// process's clock forward by TEST_CLOCK_OFFSET_S seconds, as faketime would, without a
// system dependency. Only `Date` is moved; timers are untouched.
const offset = Number(process.env.TEST_CLOCK_OFFSET_S ?? '0') * 1000;
if (!Number.isFinite(offset)) throw new Error('TEST_CLOCK_OFFSET_S must be a number of seconds');
const RealDate = Date;
class OffsetDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + offset);
    else super(...args);
  }
  static now() {
    return RealDate.now() + offset;
  }
}
globalThis.Date = OffsetDate;
