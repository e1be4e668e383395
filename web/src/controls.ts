import { h } from './dom';
import type { Context } from './state';
import { DEFAULT_GRANULARITY } from './state';
import { PRESETS, isoDate, localDate, zones, type Preset } from './time';
import type { Granularity } from './api';

const GRANULARITIES: Granularity[] = ['hour', 'day', 'week', 'month'];

/** Range presets, custom dates, time zone and (where a chart is) granularity. */
export function controls(ctx: Context, withGranularity: boolean): HTMLElement {
  const f = ctx.filters;
  const changed = () => ctx.refresh();
  const preset = h(
    'select',
    {
      id: 'range-preset',
      name: 'range',
      onchange: (e: Event) => {
        f.preset = (e.target as HTMLSelectElement).value as Preset;
        if (f.preset === 'custom' && !f.customFrom) {
          const today = localDate(new Date(), f.tz);
          f.customTo = isoDate(today);
          f.customFrom = isoDate([today[0], today[1], 1]);
        }
        f.granularity = DEFAULT_GRANULARITY[f.preset];
        changed();
      },
    },
    PRESETS.map((p) => h('option', { value: p.value, selected: p.value === f.preset }, p.label)),
  );
  const custom =
    f.preset === 'custom'
      ? [
          field(
            'From',
            h('input', {
              id: 'range-from',
              type: 'date',
              value: f.customFrom,
              onchange: (e: Event) => ((f.customFrom = (e.target as HTMLInputElement).value), changed()),
            }),
          ),
          field(
            'To',
            h('input', {
              id: 'range-to',
              type: 'date',
              value: f.customTo,
              onchange: (e: Event) => ((f.customTo = (e.target as HTMLInputElement).value), changed()),
            }),
          ),
        ]
      : [];
  const tz = h(
    'select',
    {
      id: 'time-zone',
      name: 'tz',
      onchange: (e: Event) => ((f.tz = (e.target as HTMLSelectElement).value), changed()),
    },
    zones().map((z) => h('option', { value: z, selected: z === f.tz }, z)),
  );
  const granularity = withGranularity
    ? field(
        'Granularity',
        h(
          'select',
          {
            id: 'granularity',
            onchange: (e: Event) => ((f.granularity = (e.target as HTMLSelectElement).value as Granularity), changed()),
          },
          GRANULARITIES.map((g) =>
            h('option', { value: g, selected: g === f.granularity }, g[0]!.toUpperCase() + g.slice(1)),
          ),
        ),
      )
    : null;
  return h(
    'form',
    { class: 'controls', 'aria-label': 'Range and time zone', onsubmit: (e: Event) => e.preventDefault() },
    field('Range', preset),
    ...custom,
    field('Time zone', tz),
    granularity,
  );
}

function field(label: string, control: HTMLElement): HTMLElement {
  return h('label', { class: 'field' }, h('span', {}, label), control);
}
