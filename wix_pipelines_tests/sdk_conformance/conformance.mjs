// Drives a Wix API emulator with the official Wix JavaScript SDK (@wix/sdk + @wix/auto_sdk_* modules).
//
// The SDK is pointed at the emulator the way SPEC.md §2.10 recommends: `createClient({ fetch })` with a
// fetch that rewrites `https://www.wixapis.com/...` to the emulator's plain-HTTP base URL, so the SDK keeps
// its canonical public paths. Authentication is `ApiKeyStrategy`, which makes no network calls of its own.
//
// Environment:
//   WIX_EMULATOR_URL   base URL of the emulator, e.g. http://127.0.0.1:8765 (required)
//   WIX_API_KEY        API key the emulator accepts (required)
//   WIX_SITE_ID        site id sent as `wix-site-id` (required)
//   WIX_ORDER_ID       id of an order the emulator knows (for the review request made from an order)
//   WIX_ORDER_EXPECTED_ITEMS  optional comma-separated catalog item ids: the 5 most expensive items of that
//                      order, which a request made from the order alone must carry (SPEC.md §7)
//   WIX_EMPTY_ORDER_ID id of an order with no items (ORDER_IS_EMPTY)
//   WIX_RUN_TAG        optional tag that keeps this run's records apart (default: derived from the clock)
//
// Output: one JSON line per step, `{"step": name, "ok": bool, "detail": ..., "requests": [...]}`, then one
// line `{"summary": {...}}` listing every request the SDK made (method, path as sent, status).
// Exit code: 0 all steps passed, 1 some step failed, 2 missing environment, 3 the script itself crashed.
// Each step reports on its own; a step whose input came from a failed step fails with `skipped: ...`.
//
// Run by hand: npm ci --prefix wix_pipelines_tests/sdk_conformance, start an emulator, then
//   WIX_EMULATOR_URL=http://127.0.0.1:8765 WIX_API_KEY=emulator-api-key WIX_SITE_ID=emulator-site \
//     node wix_pipelines_tests/sdk_conformance/conformance.mjs

import { createClient, ApiKeyStrategy } from '@wix/sdk';
import * as contactsModule from '@wix/auto_sdk_crm_contacts';
import * as extendedFieldsModule from '@wix/auto_sdk_crm_extended-fields';
import * as reviewsModule from '@wix/auto_sdk_reviews_reviews';
import * as reviewRequestsModule from '@wix/auto_sdk_reviews_review-requests';

const WIX_ORIGIN = 'https://www.wixapis.com';

function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`conformance.mjs: environment variable ${name} is required`);
    process.exit(2);
  }
  return value;
}

const emulatorUrl = requiredEnv('WIX_EMULATOR_URL').replace(/\/+$/, '');
const apiKey = requiredEnv('WIX_API_KEY');
const siteId = requiredEnv('WIX_SITE_ID');
const orderId = process.env.WIX_ORDER_ID || '';
const emptyOrderId = process.env.WIX_EMPTY_ORDER_ID || '';
const orderExpectedItems = (process.env.WIX_ORDER_EXPECTED_ITEMS || '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
// Short: it ends up inside review entity ids, which Wix caps at 36 characters.
const tag = (process.env.WIX_RUN_TAG || Date.now().toString(36) + Math.random().toString(36).slice(2, 5))
  .toLowerCase()
  .replace(/[^a-z0-9]/g, '')
  .slice(0, 14);

// ---------------------------------------------------------------------------------------------------------
// transport: rewrite the public host to the emulator and keep a log of what the SDK sent

const requestLog = [];

function makeFetch() {
  return async (input, init = {}) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.toString() : input.url;
    if (!url.startsWith(WIX_ORIGIN + '/')) {
      // The SDK only talks to www.wixapis.com unless a host is configured; anything else is a surprise.
      throw new Error(`conformance: the SDK called an unexpected URL ${url}`);
    }
    const target = emulatorUrl + url.slice(WIX_ORIGIN.length);
    const entry = { method: (init.method || 'GET').toUpperCase(), path: url.slice(WIX_ORIGIN.length) };
    requestLog.push(entry);
    const res = await fetch(target, init);
    entry.status = res.status;
    return res;
  };
}

function makeClient(key = apiKey) {
  return createClient({
    modules: {
      contacts: contactsModule,
      extendedFields: extendedFieldsModule,
      reviews: reviewsModule,
      reviewRequests: reviewRequestsModule,
    },
    auth: ApiKeyStrategy({ apiKey: key, siteId }),
    fetch: makeFetch(),
  });
}

const client = makeClient();

// ---------------------------------------------------------------------------------------------------------
// step runner and checks

const results = [];

class Skip extends Error {}

function emit(line) {
  process.stdout.write(JSON.stringify(line) + '\n');
}

async function step(name, fn) {
  const startedAt = requestLog.length;
  let line;
  try {
    const detail = await fn();
    line = { step: name, ok: true, detail: detail ?? null };
  } catch (e) {
    line = { step: name, ok: false, detail: describeFailure(e) };
  }
  line.requests = requestLog.slice(startedAt).map((r) => `${r.method} ${r.path.split('?')[0]} -> ${r.status ?? 'no response'}`);
  results.push(line);
  emit(line);
  return line.ok;
}

function describeFailure(e) {
  if (e instanceof Skip) return `skipped: ${e.message}`;
  if (e && e.conformance) return e.message;
  // An SDK error (see @wix/sdk-runtime transform-error): status + details.applicationError / validationError.
  if (e && e.runtimeError) {
    const cause = e.runtimeError.cause;
    return `request failed before any HTTP answer: ${e.runtimeError.message}${cause ? ` (${cause.code || cause.message})` : ''}`;
  }
  if (e && (e.status !== undefined || e.details !== undefined)) {
    return `SDK threw unexpectedly: ${JSON.stringify(sdkErrorSummary(e))}`;
  }
  return `threw: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : String(e)}`;
}

function sdkErrorSummary(e) {
  return {
    status: e.status ?? e.response?.status,
    code: e.details?.applicationError?.code ?? e.code,
    description: e.details?.applicationError?.description,
    validationError: e.details?.validationError,
    requestId: e.requestId ?? e.details?.requestId,
    message: typeof e.message === 'string' ? e.message.slice(0, 500) : e.message,
  };
}

function fail(message) {
  const err = new Error(message);
  err.conformance = true;
  throw err;
}

function check(condition, message) {
  if (!condition) fail(message);
}

function checkEq(actual, expected, what) {
  const a = JSON.stringify(actual);
  const b = JSON.stringify(expected);
  if (a !== b) fail(`${what}: expected ${b}, got ${a}`);
}

function need(value, what) {
  if (value === undefined || value === null) throw new Skip(`needs ${what}, which an earlier step did not produce`);
  return value;
}

// Runs `fn`, which must make the SDK throw; checks HTTP status and application code, returns the summary.
async function expectSdkError(fn, { status, code }) {
  let returned;
  try {
    returned = await fn();
  } catch (e) {
    const summary = sdkErrorSummary(e);
    if (status !== undefined && summary.status !== status) {
      fail(`expected HTTP ${status}${code ? ` / ${code}` : ''}, SDK error was ${JSON.stringify(summary)}`);
    }
    if (code !== undefined && summary.code !== code) {
      fail(`expected application code ${code}, SDK error was ${JSON.stringify(summary)}`);
    }
    // The SDK attaches the response's x-wix-request-id to every error (SPEC.md §2.1); the emulator sends one.
    if (!summary.requestId) fail(`the SDK error carries no requestId (x-wix-request-id header missing): ${JSON.stringify(summary)}`);
    return summary;
  }
  fail(`expected the SDK to throw (HTTP ${status}${code ? ` / ${code}` : ''}), it returned ${JSON.stringify(returned)?.slice(0, 400)}`);
}

function isGuidLike(s) {
  return typeof s === 'string' && s.length > 0;
}

function isDate(d) {
  return d instanceof Date && !Number.isNaN(d.getTime());
}

function asTime(d) {
  return d instanceof Date ? d.getTime() : new Date(d).getTime();
}

function checkSorted(values, direction, what) {
  for (let i = 1; i < values.length; i++) {
    const ok = direction === 'ASC' ? values[i - 1] <= values[i] : values[i - 1] >= values[i];
    if (!ok) fail(`${what} not in ${direction} order at index ${i}: ${JSON.stringify(values)}`);
  }
}

function pad(n) {
  return String(n).padStart(2, '0');
}

// ---------------------------------------------------------------------------------------------------------
// the scenario

const state = {
  contact: null, // the contact created by createContact (deleted at the end)
  pageContacts: [], // contacts created for paging and as review authors
  firstPageCreatedDate: null,
  field: null,
  review: null,
  pagedReviews: [],
  reviewRequests: [],
};

const PAGE_CONTACTS = 12; // offset paging with limit 5: pages of 5, 5, 2
const CONTACT_PAGE_LIMIT = 5;
const REVIEW_RATINGS = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 3]; // 9 of these are >= 2
const REVIEW_PAGE_LIMIT = 4; // 9 matches: pages of 4, 4, 1

const E1 = `conf-${tag}-a`; // entity of the single review (and the duplicate attempt)
const E2 = `conf-${tag}-b`; // entity of the paged reviews
const lastName = `Conf${tag}`;

async function contactsSteps() {
  const { contacts } = client;

  await step('contacts.createContact', async () => {
    const email = `conf.${tag}@example.org`;
    const res = await contacts.createContact({
      name: { first: 'Ada', last: lastName },
      emails: { items: [{ email, tag: 'MAIN', primary: true }] },
      company: 'Conformance Ltd',
    });
    const c = res?.contact;
    check(c, `response has no contact: ${JSON.stringify(res)}`);
    check(isGuidLike(c._id), `contact._id missing: ${JSON.stringify(c)}`);
    checkEq(c.revision, 1, 'contact.revision of a new contact');
    checkEq(c.info?.name, { first: 'Ada', last: lastName }, 'contact.info.name');
    checkEq(c.info?.company, 'Conformance Ltd', 'contact.info.company');
    checkEq(c.primaryInfo?.email, email, 'contact.primaryInfo.email');
    check(isDate(c._createdDate), `contact._createdDate is not a timestamp: ${JSON.stringify(c._createdDate)}`);
    check(!('id' in c) && !('createdDate' in c), 'SDK did not see REST names id/createdDate (renamed to _id/_createdDate)');
    state.contact = c;
    return { _id: c._id, revision: c.revision };
  });

  await step('contacts.createContactDuplicateEmail', async () => {
    need(state.contact, 'the contact from contacts.createContact');
    const summary = await expectSdkError(
      () =>
        contacts.createContact({
          name: { first: 'Ada', last: 'Again' },
          emails: { items: [{ email: `conf.${tag}@example.org`, tag: 'MAIN' }] },
        }),
      { status: 409, code: 'DUPLICATE_CONTACT_EXISTS' },
    );
    return summary;
  });

  await step('contacts.getContact', async () => {
    const created = need(state.contact, 'the contact from contacts.createContact');
    const c = await contacts.getContact(created._id);
    checkEq(c?._id, created._id, 'getContact _id');
    checkEq(c.revision, 1, 'getContact revision');
    checkEq(c.info?.name, created.info.name, 'getContact info.name');
    checkEq(c.primaryInfo?.email, created.primaryInfo.email, 'getContact primaryInfo.email');
    return { _id: c._id };
  });

  await step('contacts.updateContact', async () => {
    const created = need(state.contact, 'the contact from contacts.createContact');
    const res = await contacts.updateContact(
      created._id,
      { name: { first: 'Adah', last: lastName }, jobTitle: 'Tester' },
      created.revision,
    );
    const c = res?.contact;
    check(c, `response has no contact: ${JSON.stringify(res)}`);
    checkEq(c._id, created._id, 'updated contact _id');
    checkEq(c.revision, created.revision + 1, 'revision after update');
    checkEq(c.info?.name?.first, 'Adah', 'updated info.name.first');
    checkEq(c.info?.jobTitle, 'Tester', 'updated info.jobTitle');
    checkEq(c.primaryInfo?.email, created.primaryInfo.email, 'primaryInfo.email kept by the update');
    const again = await contacts.getContact(created._id);
    checkEq(again.revision, c.revision, 'getContact revision after update');
    checkEq(again.info?.name?.first, 'Adah', 'getContact info.name.first after update');
    state.contact = c;
    return { revision: c.revision };
  });

  await step('contacts.updateContactStaleRevision', async () => {
    const current = need(state.contact, 'the contact from contacts.updateContact');
    return expectSdkError(
      () => contacts.updateContact(current._id, { jobTitle: 'Stale' }, 1),
      { status: 409, code: 'CONTACT_ALREADY_CHANGED' },
    );
  });

  await step('contacts.createContactsForPaging', async () => {
    for (let i = 0; i < PAGE_CONTACTS; i++) {
      const res = await contacts.createContact({
        name: { first: `Page${pad(i)}`, last: lastName },
        emails: { items: [{ email: `page${pad(i)}.${tag}@example.org`, tag: 'MAIN' }] },
      });
      check(isGuidLike(res?.contact?._id), `contact ${i} not created: ${JSON.stringify(res)}`);
      state.pageContacts.push(res.contact);
    }
    const ids = new Set(state.pageContacts.map((c) => c._id));
    checkEq(ids.size, PAGE_CONTACTS, 'distinct ids of created contacts');
    state.firstPageCreatedDate = state.pageContacts[0]._createdDate;
    return { created: PAGE_CONTACTS };
  });

  await step('contacts.listContacts', async () => {
    need(state.pageContacts.length ? true : null, 'contacts from contacts.createContactsForPaging');
    const res = await contacts.listContacts({
      paging: { limit: 5, offset: 0 },
      sort: { fieldName: 'createdDate', order: 'DESC' },
    });
    check(Array.isArray(res?.contacts), `no contacts array: ${JSON.stringify(res)?.slice(0, 300)}`);
    checkEq(res.contacts.length, 5, 'contacts on a page of limit 5');
    const meta = res.pagingMetadata;
    check(meta, 'pagingMetadata missing');
    checkEq(meta.count, 5, 'pagingMetadata.count');
    checkEq(meta.offset, 0, 'pagingMetadata.offset');
    check(typeof meta.total === 'number' && meta.total >= PAGE_CONTACTS + 1, `pagingMetadata.total ${meta.total} < contacts created`);
    checkSorted(res.contacts.map((c) => asTime(c._createdDate)), 'DESC', 'listContacts createdDate');
    // Newest first: the last contact this run created is the newest on the site (or ties with it).
    const newest = state.pageContacts[state.pageContacts.length - 1];
    check(
      asTime(res.contacts[0]._createdDate) >= asTime(newest._createdDate),
      'first contact of a createdDate DESC list is older than the newest contact created',
    );
    const second = await contacts.listContacts({ paging: { limit: 5, offset: 5 }, sort: { fieldName: 'createdDate', order: 'DESC' } });
    checkEq(second.pagingMetadata?.offset, 5, 'pagingMetadata.offset of the second page');
    const overlap = second.contacts.filter((c) => res.contacts.some((d) => d._id === c._id));
    checkEq(overlap.length, 0, 'contacts repeated between list pages');
    return { total: meta.total };
  });

  await step('contacts.queryContactsFilterSort', async () => {
    const since = need(state.firstPageCreatedDate, 'contacts from contacts.createContactsForPaging');
    // eq + startsWith (case-insensitive, per the SDK typings) + ge on _createdDate, newest first.
    const res = await contacts
      .queryContacts()
      .eq('info.name.last', lastName)
      .startsWith('info.name.first', 'page')
      .ge('_createdDate', since)
      .descending('_createdDate')
      .limit(50)
      .find();
    const items = res.items;
    checkEq(items.length, PAGE_CONTACTS, 'contacts matching last name + first-name prefix + createdDate >=');
    for (const c of items) {
      check(c.info?.name?.last === lastName, `contact ${c._id} does not match info.name.last`);
      check(c.info?.name?.first?.startsWith('Page'), `contact ${c._id} does not match the prefix`);
      check(asTime(c._createdDate) >= asTime(since), `contact ${c._id} created before the ge bound`);
    }
    checkSorted(items.map((c) => asTime(c._createdDate)), 'DESC', 'queryContacts _createdDate');
    checkEq(res.totalCount, PAGE_CONTACTS, 'totalCount');
    check(!items.some((c) => c._id === state.contact?._id), 'the "Ada" contact matched the startsWith filter');

    const asc = await contacts
      .queryContacts()
      .eq('info.name.last', lastName)
      .ascending('info.name.first')
      .limit(50)
      .find();
    const firstNames = asc.items.map((c) => c.info?.name?.first);
    const expected = ['Adah', ...state.pageContacts.map((c) => c.info.name.first)].sort();
    checkEq(firstNames, expected, 'first names sorted ascending');
    return { matched: items.length, ascending: firstNames.length };
  });

  await step('contacts.queryContactsOffsetPaging', async () => {
    need(state.pageContacts.length ? true : null, 'contacts from contacts.createContactsForPaging');
    let page = await contacts
      .queryContacts()
      .eq('info.name.last', lastName)
      .startsWith('info.name.first', 'Page')
      .ascending('info.name.first')
      .limit(CONTACT_PAGE_LIMIT)
      .find();
    const expectedPages = Math.ceil(PAGE_CONTACTS / CONTACT_PAGE_LIMIT);
    checkEq(page.totalCount, PAGE_CONTACTS, 'totalCount on the first page');
    checkEq(page.totalPages, expectedPages, 'totalPages');
    const sizes = [page.items.length];
    const seen = page.items.map((c) => c._id);
    const names = page.items.map((c) => c.info?.name?.first);
    while (page.hasNext()) {
      if (sizes.length > expectedPages + 2) fail(`hasNext() still true after ${sizes.length} pages`);
      const prevPage = page.currentPage;
      page = await page.next();
      checkEq(page.currentPage, prevPage + 1, 'currentPage after next()');
      sizes.push(page.items.length);
      seen.push(...page.items.map((c) => c._id));
      names.push(...page.items.map((c) => c.info?.name?.first));
    }
    checkEq(sizes, [5, 5, 2], 'page sizes');
    checkEq(new Set(seen).size, seen.length, 'distinct ids across pages (duplicates found)');
    checkEq(
      [...seen].sort(),
      state.pageContacts.map((c) => c._id).sort(),
      'ids seen across pages vs contacts created',
    );
    checkEq(names, state.pageContacts.map((c) => c.info.name.first), 'first names across pages, ascending');
    return { pages: sizes.length, sizes, total: seen.length };
  });
}

// Pages through a whole collection and checks that paging neither loses nor repeats a record. Seeded data has
// many records sharing one createdDate millisecond, so this needs a stable tie-break on the emulator's side.
async function pageThroughAll(firstPage, { maxPages = 200 } = {}) {
  let page = firstPage;
  const items = [...page.items];
  const sizes = [page.items.length];
  while (page.hasNext()) {
    if (sizes.length >= maxPages) fail(`hasNext() still true after ${sizes.length} pages`);
    page = await page.next();
    sizes.push(page.items.length);
    items.push(...page.items);
  }
  const ids = items.map((x) => x._id);
  const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
  checkEq([...new Set(dupes)], [], 'ids repeated across pages');
  return { items, sizes, last: page };
}

async function contactsWholeCollectionStep() {
  await step('contacts.queryContactsPagingAllContacts', async () => {
    need(state.pageContacts.length ? true : null, 'contacts from contacts.createContactsForPaging');
    const first = await client.contacts.queryContacts().ascending('_createdDate').limit(7).find();
    const total = first.totalCount;
    check(typeof total === 'number' && total > PAGE_CONTACTS, `totalCount ${total} implausible`);
    const { items, sizes } = await pageThroughAll(first);
    checkEq(items.length, total, 'contacts seen across all pages vs totalCount');
    checkEq(sizes.length, Math.ceil(total / 7), 'pages of 7 across all contacts');
    checkSorted(items.map((c) => asTime(c._createdDate)), 'ASC', '_createdDate across all pages');
    const seen = new Set(items.map((c) => c._id));
    const lost = state.pageContacts.filter((c) => !seen.has(c._id)).map((c) => c._id);
    checkEq(lost, [], 'contacts created by this run missing from the full listing');
    const times = items.map((c) => asTime(c._createdDate));
    const tied = times.filter((t, i) => times.indexOf(t) !== i).length;
    return { total, pages: sizes.length, recordsSharingACreatedDate: tied };
  });
}

async function reviewsWholeCollectionStep() {
  await step('reviews.queryReviewsPagingAllReviews', async () => {
    check(state.pagedReviews.length === REVIEW_RATINGS.length, 'reviews from reviews.createReviewsForPaging missing');
    const first = await client.reviews.queryReviews({ returnPrivateReviews: true }).ascending('_createdDate').limit(7).find();
    const { items, sizes } = await pageThroughAll(first);
    checkSorted(items.map((r) => asTime(r._createdDate)), 'ASC', '_createdDate across all pages');
    const seen = new Set(items.map((r) => r._id));
    const ours = [state.review, ...state.pagedReviews].filter(Boolean);
    const lost = ours.filter((r) => !seen.has(r._id)).map((r) => r._id);
    checkEq(lost, [], 'reviews created by this run missing from the full listing');
    check(sizes.slice(0, -1).every((n) => n === 7), `every page but the last must be full (limit 7): ${JSON.stringify(sizes)}`);
    const times = items.map((r) => asTime(r._createdDate));
    const tied = times.filter((t, i) => times.indexOf(t) !== i).length;
    return { total: items.length, pages: sizes.length, recordsSharingACreatedDate: tied };
  });
}

async function extendedFieldSteps() {
  const { extendedFields, contacts } = client;
  const displayName = `Conformance ${tag}`;

  await step('extendedFields.findOrCreateNew', async () => {
    const res = await extendedFields.findOrCreateExtendedField(displayName, 'TEXT');
    check(res?.field, `no field in response: ${JSON.stringify(res)}`);
    checkEq(res.newField, true, 'newField for a new display name');
    const f = res.field;
    check(typeof f.key === 'string' && f.key.startsWith('custom.'), `field.key not in the custom namespace: ${f.key}`);
    checkEq(f.displayName, displayName, 'field.displayName');
    checkEq(f.dataType, 'TEXT', 'field.dataType');
    checkEq(f.fieldType, 'USER_DEFINED', 'field.fieldType');
    checkEq(f.namespace, 'custom', 'field.namespace');
    state.field = f;
    return { key: f.key };
  });

  await step('extendedFields.findOrCreateExisting', async () => {
    const first = need(state.field, 'the field from extendedFields.findOrCreateNew');
    const res = await extendedFields.findOrCreateExtendedField(displayName, 'TEXT');
    checkEq(res?.newField, false, 'newField for an existing display name');
    checkEq(res.field?.key, first.key, 'field.key of the found field');
    return { key: res.field.key, newField: res.newField };
  });

  await step('extendedFields.listExtendedFields', async () => {
    const field = need(state.field, 'the field from extendedFields.findOrCreateNew');
    const res = await extendedFields.listExtendedFields({ paging: { limit: 100, offset: 0 } });
    check(Array.isArray(res?.fields), `no fields array: ${JSON.stringify(res)?.slice(0, 300)}`);
    check(res.fields.some((f) => f.key === field.key), `field ${field.key} missing from the list`);
    check(res.metadata && typeof res.metadata.total === 'number', `list metadata (key "metadata") missing total: ${JSON.stringify(res.metadata)}`);
    return { fields: res.fields.length, total: res.metadata.total };
  });

  await step('extendedFields.valueOnContact', async () => {
    const field = need(state.field, 'the field from extendedFields.findOrCreateNew');
    const contact = need(state.pageContacts[0], 'a contact from contacts.createContactsForPaging');
    const res = await contacts.updateContact(
      contact._id,
      { extendedFields: { items: { [field.key]: 'CRM-0042' } } },
      contact.revision,
    );
    checkEq(res?.contact?.info?.extendedFields?.items?.[field.key], 'CRM-0042', 'extended field value after update');
    checkEq(res.contact.info?.name?.first, contact.info.name.first, 'info.name kept when only extendedFields is sent');
    const got = await contacts.getContact(contact._id);
    checkEq(got.info?.extendedFields?.items?.[field.key], 'CRM-0042', 'extended field value on getContact');
    state.pageContacts[0] = got;
    return { key: field.key };
  });
}

async function reviewSteps() {
  const { reviews } = client;
  // Ids of the reviews of entity E1 that a public query sees, and that a query with returnPrivateReviews sees.
  const publicIds = async () => (await reviews.queryReviews().eq('entityId', E1).find()).items.map((r) => r._id);
  const privateIds = async () =>
    (await reviews.queryReviews({ returnPrivateReviews: true }).eq('entityId', E1).find()).items.map((r) => r._id);

  await step('reviews.createReview', async () => {
    const author = need(state.pageContacts[0], 'a contact from contacts.createContactsForPaging');
    const r = await reviews.createReview({
      namespace: 'stores',
      entityId: E1,
      author: { contactId: author._id, authorName: 'Page Zero' },
      content: { title: 'Solid kettle', body: 'Boils fast.', rating: 4 },
    });
    check(r && isGuidLike(r._id), `review._id missing: ${JSON.stringify(r)}`);
    checkEq(r.namespace, 'stores', 'review.namespace');
    checkEq(r.entityId, E1, 'review.entityId');
    checkEq(r.author?.contactId, author._id, 'review.author.contactId');
    checkEq(r.content?.title, 'Solid kettle', 'review.content.title');
    checkEq(r.content?.rating, 4, 'review.content.rating');
    checkEq(r.revision, '1', 'review.revision (int64 as a string) of a new review');
    check(isDate(r._createdDate), `review._createdDate is not a timestamp: ${JSON.stringify(r._createdDate)}`);
    check(
      ['APPROVED', 'IN_MODERATION', 'SUBMITTED'].includes(r.moderation?.moderationStatus),
      `review.moderation.moderationStatus unexpected: ${JSON.stringify(r.moderation)}`,
    );
    // Only a published (APPROVED) review is visible without returnPrivateReviews (SPEC.md §5.2).
    const published = r.moderation.moderationStatus === 'APPROVED';
    checkEq(await publicIds(), published ? [r._id] : [], `public queryReviews of a new ${r.moderation.moderationStatus} review`);
    checkEq(await privateIds(), [r._id], 'queryReviews with returnPrivateReviews of a new review');
    state.review = r;
    return { _id: r._id, moderationStatus: r.moderation.moderationStatus };
  });

  await step('reviews.getReview', async () => {
    const created = need(state.review, 'the review from reviews.createReview');
    const r = await reviews.getReview(created._id, { returnPrivateReviews: true });
    checkEq(r?._id, created._id, 'getReview _id');
    checkEq(r.content, created.content, 'getReview content');
    checkEq(r.revision, created.revision, 'getReview revision');
    return { _id: r._id };
  });

  await step('reviews.updateReview', async () => {
    const created = need(state.review, 'the review from reviews.createReview');
    const r = await reviews.updateReview(created._id, {
      revision: created.revision,
      content: { title: 'Solid kettle, stiff lid', body: 'Boils fast; the lid is stiff.', rating: 3 },
    });
    checkEq(r?._id, created._id, 'updated review _id');
    checkEq(r.revision, String(Number(created.revision) + 1), 'review.revision after update');
    checkEq(r.content?.title, 'Solid kettle, stiff lid', 'updated content.title');
    checkEq(r.content?.rating, 3, 'updated content.rating');
    checkEq(r.entityId, E1, 'entityId kept by the update');
    checkEq(r.author?.contactId, created.author.contactId, 'author.contactId kept by the update');
    state.review = r;
    return { revision: r.revision };
  });

  await step('reviews.updateReviewStaleRevision', async () => {
    const current = need(state.review, 'the review from reviews.updateReview');
    return expectSdkError(
      () => reviews.updateReview(current._id, { revision: '1', content: { title: 'stale', rating: 1 } }),
      { status: 409 },
    );
  });

  await step('reviews.createReviewsForPaging', async () => {
    check(state.pageContacts.length >= REVIEW_RATINGS.length, 'not enough contacts from contacts.createContactsForPaging');
    for (let i = 0; i < REVIEW_RATINGS.length; i++) {
      const r = await reviews.createReview({
        namespace: 'stores',
        entityId: E2,
        author: { contactId: state.pageContacts[i + 1]?._id ?? state.pageContacts[i]._id },
        content: { title: `Review ${pad(i)}`, rating: REVIEW_RATINGS[i] },
      });
      check(isGuidLike(r?._id), `review ${i} not created: ${JSON.stringify(r)}`);
      state.pagedReviews.push(r);
    }
    return { created: state.pagedReviews.length };
  });

  await step('reviews.queryReviewsFilterSortCursorPaging', async () => {
    check(state.pagedReviews.length === REVIEW_RATINGS.length, 'reviews from reviews.createReviewsForPaging missing');
    const expected = state.pagedReviews.filter((r) => r.content.rating >= 2);
    let page = await reviews
      .queryReviews({ returnPrivateReviews: true })
      .eq('entityId', E2)
      .ge('content.rating', 2)
      .descending('content.rating')
      .limit(REVIEW_PAGE_LIMIT)
      .find();
    const sizes = [page.items.length];
    const items = [...page.items];
    while (page.hasNext()) {
      if (sizes.length > 10) fail(`hasNext() still true after ${sizes.length} pages`);
      page = await page.next();
      sizes.push(page.items.length);
      items.push(...page.items);
    }
    for (const r of items) {
      check(r.entityId === E2, `review ${r._id} has entityId ${r.entityId}, filter was ${E2}`);
      check(r.content?.rating >= 2, `review ${r._id} has rating ${r.content?.rating}, filter was >= 2`);
    }
    checkSorted(items.map((r) => r.content.rating), 'DESC', 'content.rating across pages');
    const ids = items.map((r) => r._id);
    checkEq(new Set(ids).size, ids.length, 'distinct review ids across pages (duplicates found)');
    checkEq([...ids].sort(), expected.map((r) => r._id).sort(), 'review ids seen vs reviews created with rating >= 2');
    checkEq(sizes, [4, 4, 1], 'page sizes (limit 4, 9 matches)');
    return { pages: sizes.length, sizes, total: ids.length };
  });

  await reviewsWholeCollectionStep();

  await step('reviews.updateModerationStatus', async () => {
    const current = need(state.review, 'the review from reviews.createReview');
    const rejected = await reviews.updateModerationStatus(current._id, { status: 'REJECTED' });
    checkEq(rejected?.review?._id, current._id, 'moderated review _id');
    checkEq(rejected.review.moderation?.moderationStatus, 'REJECTED', 'moderationStatus after REJECTED');
    // A rejected review is unpublished: hidden unless returnPrivateReviews is set (SPEC.md §5.2).
    checkEq(await publicIds(), [], 'public queryReviews of the entity after REJECTED');
    checkEq(await privateIds(), [current._id], 'queryReviews with returnPrivateReviews after REJECTED');
    const approved = await reviews.updateModerationStatus(current._id, { status: 'APPROVED' });
    checkEq(approved?.review?.moderation?.moderationStatus, 'APPROVED', 'moderationStatus after APPROVED');
    checkEq(await publicIds(), [current._id], 'public queryReviews of the entity after APPROVED');
    const got = await reviews.getReview(current._id, { returnPrivateReviews: true });
    checkEq(got.moderation?.moderationStatus, 'APPROVED', 'getReview moderationStatus after moderation');
    // An approved review is public: it is returned without returnPrivateReviews.
    const pub = await reviews.getReview(current._id);
    checkEq(pub?._id, current._id, 'getReview of an approved review without returnPrivateReviews');
    state.review = got;
    return { moderationStatus: got.moderation.moderationStatus, manuallyChanged: got.moderation.manuallyChanged };
  });

  await step('reviews.createReviewDuplicate', async () => {
    const existing = need(state.review, 'the review from reviews.createReview');
    const summary = await expectSdkError(
      () =>
        reviews.createReview({
          namespace: 'stores',
          entityId: E1,
          author: { contactId: existing.author.contactId },
          content: { title: 'Second opinion', rating: 1 },
        }),
      { status: 409, code: 'DUPLICATE_REVIEW' },
    );
    return summary;
  });

  await step('reviews.deleteReview', async () => {
    const current = need(state.review, 'the review from reviews.createReview');
    const res = await reviews.deleteReview(current._id);
    checkEq(res?.review?._id, current._id, 'deleteReview returns the deleted review');
    await expectSdkError(() => reviews.getReview(current._id, { returnPrivateReviews: true }), { status: 404 });
    return { deleted: current._id };
  });
}

async function reviewRequestSteps() {
  const { reviewRequests } = client;
  const recipient = () => need(state.pageContacts[2], 'a contact from contacts.createContactsForPaging');

  await step('reviewRequests.createWithItems', async () => {
    const contact = recipient();
    const rr = await reviewRequests.createReviewRequest({
      namespace: 'stores',
      items: [{ catalogItemId: E1 }, { catalogItemId: E2 }],
      recipient: { contactId: contact._id },
      communicationChannel: 'EMAIL',
    });
    check(rr && isGuidLike(rr._id), `reviewRequest._id missing: ${JSON.stringify(rr)}`);
    checkEq((rr.items || []).map((i) => i.catalogItemId), [E1, E2], 'reviewRequest.items[].catalogItemId');
    checkEq(rr.recipient?.contactId, contact._id, 'reviewRequest.recipient.contactId');
    checkEq(rr.communicationChannel, 'EMAIL', 'reviewRequest.communicationChannel');
    checkEq(rr.namespace, 'stores', 'reviewRequest.namespace');
    checkEq(rr.revision, '1', 'reviewRequest.revision (int64 as a string)');
    check(
      ['SCHEDULED', 'SENT', 'CANCELED', 'FAILED'].includes(rr.status),
      `reviewRequest.status unexpected: ${JSON.stringify(rr.status)}`,
    );
    state.reviewRequests.push(rr);
    return { _id: rr._id, status: rr.status };
  });

  await step('reviewRequests.createWithOrder', async () => {
    const contact = recipient();
    if (!orderId) fail('WIX_ORDER_ID is not set: no order the emulator knows');
    const rr = await reviewRequests.createReviewRequest({
      namespace: 'stores',
      order: { _id: orderId },
      recipient: { contactId: contact._id },
      communicationChannel: 'EMAIL',
    });
    check(rr && isGuidLike(rr._id), `reviewRequest._id missing: ${JSON.stringify(rr)}`);
    checkEq(rr.order?._id, orderId, 'reviewRequest.order._id');
    const items = (rr.items || []).map((i) => i.catalogItemId);
    check(items.length >= 1 && items.length <= 5, `an order-only request must carry 1..5 items, got ${JSON.stringify(items)}`);
    if (orderExpectedItems.length) {
      checkEq([...items].sort(), [...orderExpectedItems].sort(), 'items of an order-only request (the 5 most expensive)');
    }
    state.reviewRequests.push(rr);
    return { _id: rr._id, items };
  });

  await step('reviewRequests.createWithOrderAndItems', async () => {
    const contact = recipient();
    if (!orderId) fail('WIX_ORDER_ID is not set: no order the emulator knows');
    if (orderExpectedItems.length < 2) fail('WIX_ORDER_EXPECTED_ITEMS must name at least 2 items of the order');
    const chosen = orderExpectedItems.slice(-2);
    const rr = await reviewRequests.createReviewRequest({
      namespace: 'stores',
      order: { _id: orderId },
      items: chosen.map((catalogItemId) => ({ catalogItemId })),
      recipient: { contactId: contact._id },
      communicationChannel: 'EMAIL',
    });
    check(rr && isGuidLike(rr._id), `reviewRequest._id missing: ${JSON.stringify(rr)}`);
    checkEq(rr.order?._id, orderId, 'reviewRequest.order._id');
    // Order and items: exactly those items of that order (SPEC.md §7).
    checkEq((rr.items || []).map((i) => i.catalogItemId).sort(), [...chosen].sort(), 'items of an order+items request');
    state.reviewRequests.push(rr);
    return { _id: rr._id };
  });

  await step('reviewRequests.eitherOrderOrItemsRequired', async () => {
    const contact = recipient();
    return expectSdkError(
      () =>
        reviewRequests.createReviewRequest({
          namespace: 'stores',
          recipient: { contactId: contact._id },
          communicationChannel: 'EMAIL',
        }),
      { status: 400, code: 'EITHER_ORDER_OR_ITEMS_REQUIRED' },
    );
  });

  await step('reviewRequests.orderNotFound', async () => {
    const contact = recipient();
    return expectSdkError(
      () =>
        reviewRequests.createReviewRequest({
          namespace: 'stores',
          order: { _id: '00000000-0000-4000-8000-00000000dead' },
          recipient: { contactId: contact._id },
          communicationChannel: 'EMAIL',
        }),
      { status: 428, code: 'ORDER_NOT_FOUND' },
    );
  });

  await step('reviewRequests.orderIsEmpty', async () => {
    const contact = recipient();
    if (!emptyOrderId) fail('WIX_EMPTY_ORDER_ID is not set: no empty order the emulator knows');
    return expectSdkError(
      () =>
        reviewRequests.createReviewRequest({
          namespace: 'stores',
          order: { _id: emptyOrderId },
          recipient: { contactId: contact._id },
          communicationChannel: 'EMAIL',
        }),
      { status: 428, code: 'ORDER_IS_EMPTY' },
    );
  });

  await step('reviewRequests.getReviewRequest', async () => {
    const created = need(state.reviewRequests[0], 'the request from reviewRequests.createWithItems');
    const rr = await reviewRequests.getReviewRequest(created._id);
    checkEq(rr?._id, created._id, 'getReviewRequest _id');
    checkEq(rr.items, created.items, 'getReviewRequest items');
    checkEq(rr.recipient, created.recipient, 'getReviewRequest recipient');
    checkEq(rr.status, created.status, 'getReviewRequest status');
    checkEq(rr.revision, created.revision, 'getReviewRequest revision');
    return { _id: rr._id };
  });

  await step('reviewRequests.queryReviewRequests', async () => {
    const contact = recipient();
    need(state.reviewRequests[0], 'the request from reviewRequests.createWithItems');
    // One more request, so that paging with limit 2 spans pages even if an order-based step failed.
    const extra = await reviewRequests.createReviewRequest({
      namespace: 'stores',
      items: [{ catalogItemId: `conf-${tag}-c` }],
      recipient: { contactId: contact._id },
      communicationChannel: 'EMAIL',
    });
    check(isGuidLike(extra?._id), `extra review request not created: ${JSON.stringify(extra)}`);
    state.reviewRequests.push(extra);
    const expected = state.reviewRequests.map((r) => r._id);
    let page = await reviewRequests
      .queryReviewRequests()
      .eq('recipient.contactId', contact._id)
      .ascending('_createdDate')
      .limit(2)
      .find();
    const items = [...page.items];
    const sizes = [page.items.length];
    while (page.hasNext()) {
      if (sizes.length > 10) fail(`hasNext() still true after ${sizes.length} pages`);
      page = await page.next();
      sizes.push(page.items.length);
      items.push(...page.items);
    }
    for (const rr of items) {
      check(rr.recipient?.contactId === contact._id, `request ${rr._id} has recipient ${rr.recipient?.contactId}`);
    }
    const ids = items.map((r) => r._id);
    checkEq(new Set(ids).size, ids.length, 'distinct review request ids across pages (duplicates found)');
    checkEq([...ids].sort(), [...expected].sort(), 'review requests seen vs created for this recipient');
    checkEq(ids, expected, 'review requests in ascending _createdDate (creation) order');
    checkSorted(items.map((r) => asTime(r._createdDate)), 'ASC', '_createdDate');
    check(sizes.length >= 2, `expected at least 2 pages with limit 2, got sizes ${JSON.stringify(sizes)}`);
    return { pages: sizes.length, sizes, total: ids.length };
  });
}

async function authSteps() {
  await step('auth.wrongApiKeyRejected', async () => {
    const bad = makeClient('not-the-key');
    return expectSdkError(() => bad.contacts.listContacts({ paging: { limit: 1 } }), { status: 401 });
  });
}

async function finalSteps() {
  const { contacts } = client;
  await step('contacts.deleteContact', async () => {
    const current = need(state.contact, 'the contact from contacts.createContact');
    await contacts.deleteContact(current._id);
    const summary = await expectSdkError(() => contacts.getContact(current._id), { status: 404, code: 'CONTACT_NOT_FOUND' });
    return { deleted: current._id, getAfterDelete: summary };
  });
}

async function main() {
  await contactsSteps();
  await contactsWholeCollectionStep();
  await extendedFieldSteps();
  await reviewSteps();
  await reviewRequestSteps();
  await authSteps();
  await finalSteps();
  const failed = results.filter((r) => !r.ok).map((r) => r.step);
  emit({
    summary: {
      tag,
      steps: results.length,
      failed,
      requests: requestLog.map((r) => ({ method: r.method, path: r.path.split('?')[0], status: r.status ?? null })),
    },
  });
  process.exitCode = failed.length ? 1 : 0;
}

main().catch((e) => {
  console.error(`conformance.mjs crashed: ${e && e.stack ? e.stack : e}`);
  process.exitCode = 3;
});
