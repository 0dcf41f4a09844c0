/**
 * Public surface of the registrar: REGISTER processing (RFC 3261 §10.3, RFC 3327 Path, RFC 5626 instance and
 * reg-id) and the location service other parts use to reach users.
 *
 * ```ts
 * const location = new LocationService({ writer: store, now, timers: clock, logger, sweepIntervalMs: 5000 });
 * location.load(snapshot.bindings); location.start();
 * const registrar = new Registrar({ location, isLocalDomain, minExpires: 60, maxExpires: 3600, ... });
 * router: ['REGISTER', (tx) => registrar.handle(tx)]
 * // a proxy:                  location.lookup('sip:bob@example.com') -> bindings, most preferred first
 * // presence/reg publishers:  location.onChange(({ aor, changes, bindings }) => ...)
 * ```
 */
export {
  LocationService,
  isRemoval,
  type BindingChange,
  type BindingEvent,
  type LocationChange,
  type LocationListener,
  type LocationServiceOptions,
  type LocationStats,
  type LocationWriter,
  type LocationTimers,
  type LocationLogger,
} from './location-service.js';
export { Registrar, type RegistrarOptions, type RegistrarStats } from './registrar.js';
export { canonicalContactUri, readContact, type ContactRequest } from './contact-binding.js';
