/**
 * A Meridian service: the proto service descriptor together with the typed
 * errors its methods may fail with and the domain that raises them.
 * protoc-gen-meridian makes one per proto service (e.g. `Universe`).
 */
import type { DescService } from "@bufbuild/protobuf";
import type { TypedErrorClass } from "./errors.js";

/** A proto service and its typed errors; what clients and servers are built from. */
export interface MeridianService<
  S extends DescService = DescService,
  E extends ReadonlyArray<TypedErrorClass> = ReadonlyArray<TypedErrorClass>,
> {
  readonly desc: S;
  readonly errors: E;
  /** The domain errors are raised under, e.g. "universe" for meridian.universe.v1. */
  readonly domain: string;
}

/** Pairs a service descriptor with its error classes; the domain is the package's second segment. */
export function meridianService<S extends DescService, const E extends ReadonlyArray<TypedErrorClass>>(
  desc: S,
  errors: E,
): MeridianService<S, E> {
  const domain = desc.typeName.split(".")[1] ?? desc.typeName;
  return { desc, errors, domain };
}

/** The union of a service's domain error instances. */
export type DomainErrorOf<M extends MeridianService> = InstanceType<M["errors"][number]>;
