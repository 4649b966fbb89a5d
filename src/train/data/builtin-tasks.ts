import { SeededRandom } from '../../inference/sampling.js';
import { splitTrainValidation } from './split.js';

/**
 * The small learnable tasks the project ships in data/tasks/, as prompt/completion pairs: one per tutor
 * subject (each prompt ends in "Answer:" and each completion is a short answer after a space), and the
 * sentiment task the learning test uses. The files are exactly what `builtinTaskFiles()` returns; a test
 * keeps them in step.
 */
export interface TaskExample {
  readonly prompt: string;
  readonly completion: string;
}

export interface BuiltinTask {
  /** The file stem: data/tasks/<name>.train.jsonl and <name>.valid.jsonl. */
  readonly name: string;
  readonly examples: readonly TaskExample[];
}

export const TASK_SPLIT_SEED = 7;
export const TASK_VALIDATION_FRACTION = 0.2;

/**
 * `n` distinct sums and differences of numbers below 50, e.g. "What is 17 plus 25? Answer:" → " 42".
 * Differences are never negative, so every answer is a plain number.
 */
export function arithmeticTask(seed: number, n: number): TaskExample[] {
  const possible = 50 * 50 + (50 * 51) / 2;
  if (!Number.isInteger(n) || n < 0 || n > possible) throw new RangeError(`n must be an integer in [0, ${possible}], got ${n}`);
  const random = new SeededRandom(seed);
  const below50 = () => Math.floor(random.next() * 50);
  const seen = new Set<string>();
  const examples: TaskExample[] = [];
  while (examples.length < n) {
    let a = below50();
    let b = below50();
    const plus = random.next() < 0.5;
    if (!plus && a < b) [a, b] = [b, a];
    const prompt = `What is ${a} ${plus ? 'plus' : 'minus'} ${b}? Answer:`;
    if (seen.has(prompt)) continue;
    seen.add(prompt);
    examples.push({ prompt, completion: ` ${plus ? a + b : a - b}` });
  }
  return examples;
}

// Nouns whose spoken and written first letters agree, so "an" before a vowel letter is the whole rule.
const VOWEL_NOUNS = [
  'apple', 'egg', 'orange', 'umbrella', 'igloo', 'elephant', 'owl', 'island', 'ant', 'eagle',
  'octopus', 'onion', 'oven', 'ocean', 'engine', 'arrow', 'envelope', 'ink', 'insect', 'idea',
  'actor', 'artist', 'album', 'anchor', 'apron', 'axe', 'elbow', 'elf', 'emu', 'ostrich',
  'otter', 'olive', 'uncle', 'usher', 'infant', 'index', 'echo', 'attic', 'acorn', 'oak',
];
const CONSONANT_NOUNS = [
  'banana', 'cat', 'dog', 'house', 'table', 'pencil', 'river', 'mountain', 'garden', 'window',
  'chair', 'book', 'lemon', 'tiger', 'rabbit', 'ship', 'kite', 'lamp', 'nest', 'piano',
  'queen', 'rose', 'spoon', 'train', 'violin', 'wagon', 'yacht', 'zebra', 'bottle', 'candle',
  'desk', 'feather', 'goat', 'horse', 'jacket', 'kettle', 'ladder', 'mirror', 'needle', 'parrot',
];
const PLURALS: readonly (readonly [string, string])[] = [
  ['cat', 'cats'], ['dog', 'dogs'], ['book', 'books'], ['tree', 'trees'], ['car', 'cars'],
  ['river', 'rivers'], ['pencil', 'pencils'], ['door', 'doors'], ['bird', 'birds'], ['cup', 'cups'],
  ['box', 'boxes'], ['fox', 'foxes'], ['bus', 'buses'], ['dish', 'dishes'], ['church', 'churches'],
  ['watch', 'watches'], ['brush', 'brushes'], ['glass', 'glasses'], ['dress', 'dresses'], ['tax', 'taxes'],
  ['baby', 'babies'], ['city', 'cities'], ['party', 'parties'], ['story', 'stories'], ['lady', 'ladies'],
  ['cherry', 'cherries'], ['family', 'families'], ['puppy', 'puppies'], ['country', 'countries'], ['berry', 'berries'],
  ['boy', 'boys'], ['day', 'days'], ['key', 'keys'], ['toy', 'toys'], ['monkey', 'monkeys'],
  ['leaf', 'leaves'], ['knife', 'knives'], ['wolf', 'wolves'], ['half', 'halves'], ['shelf', 'shelves'],
  ['life', 'lives'], ['wife', 'wives'], ['loaf', 'loaves'], ['calf', 'calves'], ['thief', 'thieves'],
  ['child', 'children'], ['man', 'men'], ['woman', 'women'], ['mouse', 'mice'], ['goose', 'geese'],
  ['tooth', 'teeth'], ['foot', 'feet'], ['person', 'people'], ['ox', 'oxen'], ['louse', 'lice'],
  ['sheep', 'sheep'], ['fish', 'fish'], ['deer', 'deer'], ['moose', 'moose'], ['series', 'series'],
  ['potato', 'potatoes'], ['tomato', 'tomatoes'], ['hero', 'heroes'], ['echo', 'echoes'], ['piano', 'pianos'],
  ['photo', 'photos'], ['cactus', 'cacti'], ['fungus', 'fungi'], ['crisis', 'crises'], ['analysis', 'analyses'],
];

/** Choosing "a" or "an" (single-token answers, one clear rule), then plural forms (regular and irregular). */
export function grammarTask(): TaskExample[] {
  const article = (noun: string, answer: string): TaskExample => ({
    prompt: `Which word goes before "${noun}", a or an? Answer:`,
    completion: ` ${answer}`,
  });
  return [
    ...VOWEL_NOUNS.map((noun) => article(noun, 'an')),
    ...CONSONANT_NOUNS.map((noun) => article(noun, 'a')),
    ...PLURALS.map(([singular, plural]) => ({ prompt: `What is the plural of ${singular}? Answer:`, completion: ` ${plural}` })),
  ];
}

const CAPITALS: readonly (readonly [string, string])[] = [
  ['France', 'Paris'], ['Germany', 'Berlin'], ['Italy', 'Rome'], ['Spain', 'Madrid'], ['Portugal', 'Lisbon'],
  ['the United Kingdom', 'London'], ['Ireland', 'Dublin'], ['the Netherlands', 'Amsterdam'], ['Belgium', 'Brussels'],
  ['Switzerland', 'Bern'], ['Austria', 'Vienna'], ['Poland', 'Warsaw'], ['the Czech Republic', 'Prague'],
  ['Hungary', 'Budapest'], ['Greece', 'Athens'], ['Sweden', 'Stockholm'], ['Norway', 'Oslo'], ['Denmark', 'Copenhagen'],
  ['Finland', 'Helsinki'], ['Iceland', 'Reykjavik'], ['Russia', 'Moscow'], ['Ukraine', 'Kyiv'], ['Romania', 'Bucharest'],
  ['Bulgaria', 'Sofia'], ['Serbia', 'Belgrade'], ['Croatia', 'Zagreb'], ['Turkey', 'Ankara'], ['Egypt', 'Cairo'],
  ['Kenya', 'Nairobi'], ['Nigeria', 'Abuja'], ['Ethiopia', 'Addis Ababa'], ['Morocco', 'Rabat'], ['Ghana', 'Accra'],
  ['Senegal', 'Dakar'], ['Algeria', 'Algiers'], ['Tunisia', 'Tunis'], ['Japan', 'Tokyo'], ['China', 'Beijing'],
  ['South Korea', 'Seoul'], ['India', 'New Delhi'], ['Pakistan', 'Islamabad'], ['Bangladesh', 'Dhaka'],
  ['Thailand', 'Bangkok'], ['Vietnam', 'Hanoi'], ['the Philippines', 'Manila'], ['Iran', 'Tehran'], ['Iraq', 'Baghdad'],
  ['Saudi Arabia', 'Riyadh'], ['Afghanistan', 'Kabul'], ['Nepal', 'Kathmandu'], ['Mongolia', 'Ulaanbaatar'],
  ['Canada', 'Ottawa'], ['Mexico', 'Mexico City'], ['Cuba', 'Havana'], ['Brazil', 'Brasília'], ['Argentina', 'Buenos Aires'],
  ['Chile', 'Santiago'], ['Peru', 'Lima'], ['Colombia', 'Bogotá'], ['Venezuela', 'Caracas'], ['Ecuador', 'Quito'],
  ['Uruguay', 'Montevideo'], ['Australia', 'Canberra'], ['New Zealand', 'Wellington'], ['Jamaica', 'Kingston'],
  ['Lebanon', 'Beirut'], ['Jordan', 'Amman'],
];

/** Country to capital; countries whose capital is disputed or split between cities are left out. */
export function capitalsTask(): TaskExample[] {
  return CAPITALS.map(([country, capital]) => ({ prompt: `What is the capital of ${country}? Answer:`, completion: ` ${capital}` }));
}

const HISTORY_DATES: readonly (readonly [string, number])[] = [
  ['did the Berlin Wall fall', 1989], ['did Apollo 11 land on the Moon', 1969],
  ['did Columbus first sail to the Americas', 1492], ['was the Bastille stormed', 1789],
  ['was the United States Declaration of Independence adopted', 1776], ['did the First World War begin', 1914],
  ['did the First World War end', 1918], ['did the Second World War begin', 1939], ['did the Second World War end', 1945],
  ['did the Titanic sink', 1912], ['was Magna Carta sealed', 1215], ['was the Battle of Hastings fought', 1066],
  ['did the Wright brothers make the first powered flight', 1903], ['was Sputnik 1 launched', 1957],
  ['was the Soviet Union dissolved', 1991], ['was Nelson Mandela elected President of South Africa', 1994],
  ['did India become independent', 1947], ['did Martin Luther publish his Ninety-five Theses', 1517],
  ['was the Battle of Waterloo fought', 1815], ['did the American Civil War begin', 1861],
  ['did the American Civil War end', 1865], ['did Darwin publish On the Origin of Species', 1859],
  ['did the October Revolution take place in Russia', 1917], ['did the Great Fire of London happen', 1666],
  ['did the Wall Street Crash happen', 1929], ['was the United Nations founded', 1945],
  ['did the Chernobyl disaster happen', 1986], ['did Constantinople fall to the Ottomans', 1453],
  ['was Napoleon crowned Emperor of the French', 1804], ['was the Spanish Armada defeated', 1588],
  ['did Yuri Gagarin fly into space', 1961], ['was Pearl Harbor attacked', 1941], ['did the D-Day landings take place', 1944],
  ['was the Treaty of Versailles signed', 1919], ['did Einstein publish special relativity', 1905],
  ['did Victoria become Queen of the United Kingdom', 1837], ['was Shakespeare born', 1564], ['was Mozart born', 1756],
  ['did the Suez Canal open', 1869], ['was the Eiffel Tower completed', 1889], ['was the Statue of Liberty dedicated', 1886],
  ['were the first modern Olympic Games held', 1896], ['was the Hubble Space Telescope launched', 1990],
  ['was Germany reunified', 1990], ['did the Cuban Missile Crisis take place', 1962],
  ['was President Kennedy assassinated', 1963], ['did the Boston Tea Party take place', 1773],
  ['did the Mayflower sail to America', 1620], ['did Vasco da Gama reach India', 1498],
  ['did Alexander Fleming discover penicillin', 1928], ['was the Gunpowder Plot foiled', 1605],
  ['was the Human Genome Project completed', 2003],
];

/** Well-known events and the year they happened; all answers are four-digit years. */
export function historyDatesTask(): TaskExample[] {
  return HISTORY_DATES.map(([event, year]) => ({ prompt: `In what year ${event}? Answer:`, completion: ` ${year}` }));
}

const POSITIVE = ['good', 'great', 'kind', 'happy', 'bright', 'clear', 'warm', 'friendly', 'helpful', 'lovely', 'calm', 'fun'];
const NEGATIVE = ['bad', 'poor', 'rude', 'sad', 'dull', 'cold', 'boring', 'awful', 'harsh', 'angry', 'noisy', 'messy'];
const REVIEWED = ['lesson', 'teacher', 'book', 'class', 'story', 'answer', 'school', 'garden', 'film', 'meal', 'trip', 'game', 'city', 'song', 'park', 'room'];
const REVIEW_TEMPLATES = ['The {noun} was {adj}', 'Our {noun} felt {adj}', 'That {noun} is really {adj}', 'I found the {noun} {adj}'];

/**
 * `n` distinct short reviews labelled " positive" or " negative" (basic language understanding), e.g.
 * "The lesson was kind" → " positive". Reviews are templates filled with a noun and an adjective, so the
 * held-out split holds sentences never seen in training and is scored well only by learning which
 * adjectives are positive. The adjectives are shared between splits: a model whose weights are random
 * knows no words, so an unseen adjective would be unlearnable. Each review ends with its adjective and
 * the label follows at once, because a random base model's attention barely reaches back past a few
 * tokens; this is the task the learning test trains every method on.
 */
export function sentimentTask(seed: number, n: number): TaskExample[] {
  const all: TaskExample[] = [];
  for (const template of REVIEW_TEMPLATES) {
    for (const noun of REVIEWED) {
      for (const [adjectives, label] of [[POSITIVE, ' positive'], [NEGATIVE, ' negative']] as const) {
        for (const adj of adjectives) all.push({ prompt: template.replace('{noun}', noun).replace('{adj}', adj), completion: label });
      }
    }
  }
  if (!Number.isInteger(n) || n < 0 || n > all.length) throw new RangeError(`n must be an integer in [0, ${all.length}], got ${n}`);
  const random = new SeededRandom(seed);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, n);
}

export function builtinTasks(): BuiltinTask[] {
  return [
    { name: 'arithmetic', examples: arithmeticTask(1, 400) },
    { name: 'capitals', examples: capitalsTask() },
    { name: 'history-dates', examples: historyDatesTask() },
    { name: 'grammar', examples: grammarTask() },
    { name: 'sentiment', examples: sentimentTask(1, 500) },
  ];
}

/** The contents of every data/tasks file by file name: each task split into train and validation JSONL. */
export function builtinTaskFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const jsonl = (examples: readonly TaskExample[]) => examples.map((example) => JSON.stringify(example) + '\n').join('');
  for (const task of builtinTasks()) {
    const { train, validation } = splitTrainValidation(task.examples, TASK_VALIDATION_FRACTION, TASK_SPLIT_SEED);
    files.set(`${task.name}.train.jsonl`, jsonl(train));
    files.set(`${task.name}.valid.jsonl`, jsonl(validation));
  }
  return files;
}
