"""Build the embedded sample dataset ``harness/data/sample/quickstart.jsonl.gz``, deterministically.

Run ``python -m harness.data.make_sample [OUT]``; the output is byte-identical on every run.

Rows are ``{"id": int, "text": str, "meta": {"source": str, "lang": str}}``: English paragraphs
from sentence templates over six topics, handwritten sentences in German, French, Spanish,
Chinese, Japanese and Russian, plus what a cleaning recipe should find: exact duplicates (~5%),
near duplicates with one word changed (~5%), e-mail addresses and URLs (~10%), junk rows (~8%),
odd whitespace (no-break spaces, tabs, zero-width spaces) and typographic punctuation.
"""
from __future__ import annotations

import gzip
import io
import json
import random
import sys
from pathlib import Path

SEED = 20240611
N_ROWS = 3000
OUT = Path(__file__).resolve().parent / "sample" / "quickstart.jsonl.gz"

# ---------------------------------------------------------------------------------------------
# English: topic -> (templates, slots). Slots are {name}; each name picks from SLOTS.

SLOTS: dict[str, list[str]] = {
    "dish": ["lentil soup", "mushroom risotto", "banana bread", "chicken curry", "pad thai",
             "shakshuka", "sourdough loaf", "vegetable lasagna", "lemon tart", "beef stew",
             "miso ramen", "falafel wraps", "apple crumble", "paella", "potato gratin"],
    "ingredient": ["garlic", "smoked paprika", "fresh thyme", "brown butter", "coconut milk",
                   "chickpeas", "parmesan", "ginger", "a pinch of cumin", "sesame oil",
                   "shallots", "lemon zest", "crème fraîche", "cardamom", "anchovies"],
    "minutes": ["five", "ten", "fifteen", "twenty", "twenty-five", "thirty", "forty", "ninety"],
    "tool": ["cast-iron skillet", "Dutch oven", "stand mixer", "sheet pan", "wok",
             "food processor", "pressure cooker", "wooden spoon", "microplane"],
    "city": ["Lisbon", "Kyoto", "Vancouver", "Marrakesh", "Tallinn", "Oaxaca", "Hanoi",
             "Edinburgh", "Valparaíso", "Ljubljana", "Tbilisi", "Hobart", "Bergen", "Cusco"],
    "place": ["the old harbour", "the night market", "a hillside monastery", "the central station",
              "a tiny family guesthouse", "the botanical garden", "the river promenade",
              "the cathedral square", "a ferry terminal", "the covered bazaar"],
    "transport": ["overnight train", "regional bus", "rented bicycle", "ferry", "shared taxi",
                  "tram", "cheap flight", "hitchhiking"],
    "season": ["early spring", "late autumn", "the rainy season", "midsummer", "the shoulder season",
               "winter"],
    "lang": ["Python", "Rust", "Go", "TypeScript", "Java", "C++", "Kotlin", "Haskell", "Elixir"],
    "thing": ["the connection pool", "the cache layer", "our build pipeline", "the parser",
              "the retry logic", "the test suite", "the logging setup", "the scheduler",
              "the database migration", "the config loader", "the plugin system"],
    "problem": ["a memory leak", "a race condition", "an off-by-one error", "a deadlock",
                "flaky tests", "slow startup", "a silent data corruption", "a timezone bug",
                "an encoding issue", "a dependency conflict"],
    "fix": ["adding a lock around the shared state", "pinning the dependency version",
            "switching to a bounded queue", "normalising all timestamps to UTC",
            "reading the file as bytes and decoding explicitly", "batching the writes",
            "replacing the global with a context variable", "adding a timeout to every call"],
    "field": ["astronomy", "marine biology", "materials science", "neuroscience", "climate research",
              "genetics", "particle physics", "ecology", "epidemiology", "geology"],
    "finding": ["a previously unknown species of deep-sea coral",
                "a battery electrode that survives ten thousand charge cycles",
                "evidence of water ice in a permanently shadowed crater",
                "a gene variant linked to longer sleep", "an exoplanet with a steam atmosphere",
                "a bacterium that breaks down nylon", "unusually fast glacier retreat",
                "a fossil that pushes back the origin of feathers",
                "a cheaper catalyst for splitting water"],
    "institution": ["a university team in Zurich", "researchers in Melbourne",
                    "an international consortium", "scientists at a national laboratory",
                    "a group of graduate students", "a field station in Svalbard"],
    "product": ["wireless earbuds", "standing desk", "espresso machine", "hiking boots",
                "mechanical keyboard", "robot vacuum", "e-reader", "air fryer", "backpack",
                "portable speaker", "electric toothbrush", "office chair"],
    "quality": ["build quality", "battery life", "noise level", "customer support", "price",
                "packaging", "instruction manual", "weight", "sound", "comfort"],
    "verdict": ["exceeded my expectations", "is fine for the price", "broke after two weeks",
                "works exactly as described", "feels cheaper than it looks",
                "is the best purchase I made this year", "was returned the next day"],
    "stars": ["one", "two", "three", "four", "five"],
    "hobby": ["home brewing", "bouldering", "film photography", "sourdough baking", "birdwatching",
              "retro gaming", "woodworking", "urban gardening", "amateur radio", "knitting"],
    "person": ["my neighbour", "a colleague", "my brother", "someone on the forum",
               "the shop owner", "my flatmate", "an old friend"],
    "number": ["3", "7", "12", "40", "150", "2,000", "a dozen", "several"],
    "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
}

TOPICS: dict[str, list[str]] = {
    "cooking": [
        "The secret to a good {dish} is patience and {ingredient}.",
        "Let the {dish} rest for {minutes} minutes before serving.",
        "I made {dish} in my {tool} last night and it turned out better than expected.",
        "If you do not have {ingredient}, {ingredient} works surprisingly well as a substitute.",
        "Toast the spices in a dry {tool} until fragrant, about {minutes} minutes.",
        "My grandmother never measured anything when she made {dish}; she cooked by smell.",
        "Season generously, taste, and adjust with {ingredient} at the end.",
        "Leftover {dish} tastes even better the next day, once the flavours have settled.",
        "Do not crowd the pan, or the vegetables will steam instead of browning.",
        "Preheat the oven properly; most recipes assume it is already hot.",
        "A squeeze of lemon at the end brightens almost any {dish}.",
        "This {dish} freezes well for up to three months.",
    ],
    "travel": [
        "We arrived in {city} in {season} and the streets were almost empty.",
        "The best way to get from {city} to {city} is the {transport}.",
        "Do not miss {place}; we spent a whole afternoon there.",
        "Our guesthouse near {place} cost less than a dinner back home.",
        "In {city} most museums are free on the first {weekday} of the month.",
        "Bring cash: half of the cafés near {place} do not accept cards.",
        "The {transport} was late by two hours, but nobody seemed to mind.",
        "I would go back to {city} in a heartbeat, though maybe not in {season}.",
        "Locals recommended walking up to {place} at sunrise, and they were right.",
        "Pack light; the cobblestones in {city} are unkind to suitcases.",
        "We got lost twice on the way to {place} and found a lovely bakery both times.",
    ],
    "programming": [
        "After upgrading {lang}, {thing} started showing {problem}.",
        "We tracked down {problem} in {thing} by {fix}.",
        "The fix for {problem} turned out to be {fix}.",
        "Rewriting {thing} in {lang} cut our build time roughly in half.",
        "Always write a failing test before you touch {thing}.",
        "Code review caught {problem} that would have shipped on {weekday}.",
        "Profiling showed that {thing} spent most of its time waiting on I/O.",
        "Our on-call engineer spent the night chasing {problem} in {thing}.",
        "Logging the inputs made {problem} reproducible within minutes.",
        "The documentation for {thing} was out of date, so we read the source instead.",
        "Prefer small pull requests; reviewers actually read them.",
        "We replaced {number} lines of custom code in {thing} with a standard library call.",
    ],
    "science": [
        "In a study published this week, {institution} reported {finding}.",
        "Experts in {field} called the result surprising but cautioned that it needs replication.",
        "The discovery of {finding} could change how {field} is taught.",
        "{institution} spent {number} years collecting the data behind the paper.",
        "The team plans to share its raw data so other groups in {field} can check the analysis.",
        "Funding for the follow-up study in {field} has not yet been secured.",
        "Critics noted that the sample size was small, only {number} cases.",
        "The announcement of {finding} drew attention far beyond {field}.",
        "According to the authors, the effect was visible in every measurement.",
        "Independent researchers in {field} welcomed the open methodology.",
    ],
    "review": [
        "I bought the {product} {number} months ago and it {verdict}.",
        "The {quality} of this {product} is disappointing.",
        "Honestly the {quality} alone makes the {product} worth it.",
        "{stars} stars: the {product} {verdict}.",
        "Compared to my old {product}, the {quality} is much better.",
        "Shipping was fast, but the {packaging_note}",
        "My only complaint about the {product} is the {quality}.",
        "I returned the first {product} because of the {quality}; the replacement {verdict}.",
        "Would I recommend this {product}? Only if {quality} does not matter to you.",
        "After {number} weeks of daily use the {product} {verdict}.",
    ],
    "forum": [
        "Has anyone here tried {hobby}? I am thinking about getting started.",
        "Quick question: how long did it take you to get decent at {hobby}?",
        "{person} got me into {hobby} last year and now I cannot stop.",
        "Thanks for all the replies, the advice about {hobby} really helped.",
        "Sorry if this was asked before, I searched but found nothing recent.",
        "Update: I followed the suggestions and it finally works.",
        "Mods, please move this thread if it is in the wrong section.",
        "I spent {number} hours on {hobby} this weekend and regret nothing.",
        "Does anyone know a good beginner guide for {hobby}?",
        "Bumping this because I still have the same problem since {weekday}.",
        "Edit: fixed a typo in the title.",
    ],
}
SLOTS["packaging_note"] = ["box was crushed.", "manual was only in Swedish.",
                           "charger was missing.", "tracking number never updated."]

NAMES = ["anna", "j.smith", "mike_r", "sofia.martins", "dev-team", "support", "info", "k.tanaka",
         "olga.p", "lee", "hello", "orders", "n.okafor", "paul.weber", "sales"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "shop.example.co.uk", "example.de",
           "forum.example.io"]
URL_PATHS = ["", "/blog/2023/10/recipe", "/docs/getting-started", "/forum/thread/48213",
             "/products/item?id=5521&ref=review", "/travel/guides/city-walks", "/en/news/science",
             "/wiki/Main_Page", "/issues/1042#comment-7"]

# ---------------------------------------------------------------------------------------------
# Other languages: a few dozen handwritten sentences each.

FOREIGN: dict[str, list[str]] = {
    "de": [
        "Der Zug nach München hatte wieder einmal zwanzig Minuten Verspätung.",
        "Für den Kuchen braucht man vier Eier, Zucker und etwas Zitronenschale.",
        "Die Ausstellung im Stadtmuseum ist noch bis Ende März geöffnet.",
        "Nach dem Update startet mein Laptop deutlich langsamer als vorher.",
        "Wir haben am Wochenende eine Wanderung durch den Schwarzwald gemacht.",
        "Das Restaurant an der Ecke hat jetzt auch sonntags geöffnet.",
        "Kann mir jemand erklären, warum der Compiler diese Warnung ausgibt?",
        "Die Forscher veröffentlichten ihre Ergebnisse in einer Fachzeitschrift.",
        "Der Kopfhörer sitzt bequem, aber der Akku hält nur fünf Stunden.",
        "Im Herbst ist die Altstadt besonders schön, wenn das Laub fällt.",
        "Bitte denken Sie daran, den Müll am Dienstag rauszustellen.",
        "Meine Großmutter backt jedes Jahr zu Weihnachten Lebkuchen.",
        "Die Fähre nach Rügen fährt im Winter nur zweimal am Tag.",
        "Ich habe das Buch in einem Zug durchgelesen.",
        "Der neue Radweg entlang des Flusses ist endlich fertig.",
        "Die Lieferung kam pünktlich, aber die Verpackung war beschädigt.",
        "Wer hat Erfahrung mit Sauerteig und kann mir Tipps geben?",
        "Das Wetter soll morgen deutlich kühler werden.",
        "Unsere Mannschaft hat das Spiel in der letzten Minute gewonnen.",
        "Die Bibliothek bietet jetzt auch E-Books zum Ausleihen an.",
        "Nach drei Tagen Regen kam endlich die Sonne heraus.",
        "Der Vortrag über Quantencomputer war verständlicher als erwartet.",
        "Bei der Installation muss man unbedingt Python 3.10 verwenden.",
        "Die Preise auf dem Wochenmarkt sind im Sommer gestiegen.",
    ],
    "fr": [
        "Le train pour Lyon est parti avec une demi-heure de retard.",
        "Pour réussir une pâte feuilletée, il faut du beurre très froid.",
        "Nous avons visité le musée d’Orsay un mardi matin, presque sans monde.",
        "Quelqu’un sait-il pourquoi mon script plante au démarrage ?",
        "Les chercheurs ont découvert une nouvelle espèce de papillon en Guyane.",
        "Ce casque est confortable, mais la batterie se vide trop vite.",
        "La boulangerie du coin fait le meilleur pain de tout le quartier.",
        "En automne, les forêts des Vosges prennent des couleurs magnifiques.",
        "Merci pour vos réponses, le problème est enfin résolu !",
        "Il pleut depuis trois jours et la rivière commence à déborder.",
        "J’ai lu ce roman en une seule nuit, impossible de le lâcher.",
        "Le marché du samedi propose des fromages de toute la région.",
        "La mise à jour du logiciel a corrigé plusieurs failles de sécurité.",
        "On a loué des vélos pour faire le tour de l’île en une journée.",
        "Le colis est arrivé à temps, mais le carton était abîmé.",
        "Ajoutez une pincée de sel et laissez mijoter vingt minutes.",
        "Les places pour le concert se sont vendues en quelques minutes.",
        "Mon voisin cultive des tomates sur son balcon depuis des années.",
        "La conférence sur le climat a attiré un public nombreux.",
        "Je cherche un bon tutoriel pour débuter en photographie argentique.",
        "Le musée est fermé le lundi et les jours fériés.",
        "Cette recette de ratatouille vient de ma grand-mère.",
        "Le télescope a capté la lumière d’une galaxie très lointaine.",
    ],
    "es": [
        "El tren a Sevilla salió con cuarenta minutos de retraso.",
        "Para una buena tortilla de patatas hace falta paciencia y buen aceite.",
        "¿Alguien sabe por qué el programa se cierra al abrir un archivo?",
        "Los investigadores publicaron sus resultados en una revista científica.",
        "Los auriculares suenan bien, pero la batería dura muy poco.",
        "Pasamos la tarde paseando por el casco antiguo de Toledo.",
        "El mercado de los domingos tiene las mejores frutas de la ciudad.",
        "Gracias a todos por la ayuda, ya funciona perfectamente.",
        "En primavera los campos se llenan de amapolas.",
        "Mi abuela prepara un gazpacho que nadie consigue imitar.",
        "La biblioteca municipal amplió su horario durante los exámenes.",
        "El paquete llegó a tiempo, aunque la caja estaba rota.",
        "Después de la actualización, el portátil va mucho más lento.",
        "El museo es gratuito los domingos por la tarde.",
        "Alquilamos un coche para recorrer la costa durante una semana.",
        "Añade el arroz cuando el sofrito esté bien dorado.",
        "La conferencia sobre energía solar fue muy interesante.",
        "Estoy buscando un buen libro para aprender a programar.",
        "Llovió toda la noche y las calles amanecieron inundadas.",
        "El equipo ganó el partido en el último minuto.",
        "Los precios del alquiler han subido muchísimo este año.",
        "Un grupo de astrónomos detectó un planeta con atmósfera de vapor.",
    ],
    "zh": [
        "今天的天气非常好，我们去公园散步了。",
        "这家餐厅的饺子很好吃，价格也不贵。",
        "火车晚点了半个小时，大家都在站台上等着。",
        "有没有人知道这个程序为什么一打开就崩溃？",
        "研究人员在深海发现了一种新的珊瑚。",
        "这款耳机音质不错，但是电池续航太短。",
        "周末我们去了西湖，风景非常美。",
        "谢谢大家的回复，问题终于解决了。",
        "做红烧肉的关键是火候和耐心。",
        "图书馆的开放时间延长到晚上十点。",
        "快递按时送到了，但是包装有点破损。",
        "更新系统以后，电脑变得很慢。",
        "春天的时候，山上开满了杜鹃花。",
        "我奶奶每年春节都会包很多饺子。",
        "这本小说我一个晚上就看完了。",
        "博物馆每周一闭馆，请提前安排行程。",
        "新的地铁线路下个月开通。",
        "科学家们对这一发现感到非常惊讶。",
        "我想学习编程，请问从哪里开始比较好？",
        "昨晚下了一整夜的雨，今天空气特别清新。",
        "这家咖啡馆的拿铁是全城最好喝的。",
        "比赛在最后一分钟才分出胜负。",
    ],
    "ja": [
        "今日はとても良い天気なので、公園を散歩しました。",
        "京都の紅葉は十一月の中旬が見頃です。",
        "電車が三十分遅れて、会議に間に合いませんでした。",
        "このプログラムが起動時に落ちる原因を知っている人はいますか？",
        "研究チームは新しい種類の深海魚を発見しました。",
        "このイヤホンは音が良いですが、バッテリーの持ちが悪いです。",
        "祖母の作る味噌汁は本当においしいです。",
        "皆さん、回答ありがとうございました。無事に解決しました。",
        "週末に友達と富士山に登りました。",
        "図書館の開館時間が夜九時まで延長されました。",
        "荷物は予定通り届きましたが、箱が少しつぶれていました。",
        "アップデートの後、パソコンの動作が遅くなりました。",
        "春になると川沿いの桜がいっせいに咲きます。",
        "この小説は一晩で読み終えてしまいました。",
        "駅前に新しいパン屋さんがオープンしました。",
        "美術館は月曜日が休館日なので注意してください。",
        "カレーは一晩寝かせると味がなじんでおいしくなります。",
        "プログラミングを始めたいのですが、おすすめの本はありますか？",
        "昨夜は一晩中雨が降っていました。",
        "試合は最後の一分で決着がつきました。",
        "科学者たちはこの結果に驚いています。",
    ],
    "ru": [
        "Поезд в Санкт-Петербург опоздал на сорок минут.",
        "Для хорошего борща нужна свёкла, капуста и немного терпения.",
        "Кто-нибудь знает, почему программа падает при запуске?",
        "Учёные обнаружили новый вид глубоководных кораллов.",
        "Наушники звучат хорошо, но батарея садится слишком быстро.",
        "В выходные мы гуляли по набережной и смотрели на закат.",
        "Спасибо всем за ответы, проблема наконец решена.",
        "Осенью в парке особенно красиво, когда падают листья.",
        "Бабушка каждый год варит варенье из вишни.",
        "Библиотека теперь работает до десяти вечера.",
        "Посылка пришла вовремя, но коробка была помята.",
        "После обновления ноутбук стал работать намного медленнее.",
        "Весной в горах цветут рододендроны.",
        "Я прочитал эту книгу за одну ночь.",
        "Музей закрыт по понедельникам, планируйте поездку заранее.",
        "Новая линия метро откроется в следующем месяце.",
        "Исследователи опубликовали свои данные в открытом доступе.",
        "Посоветуйте хорошую книгу для начинающих программистов.",
        "Всю ночь шёл дождь, а утром выглянуло солнце.",
        "Команда забила победный гол на последней минуте.",
        "Цены на рынке заметно выросли за лето.",
    ],
}
FOREIGN_SOURCE = {"de": "forum_de", "fr": "news_fr", "es": "blog_es", "zh": "web_zh",
                  "ja": "web_ja", "ru": "forum_ru"}

JUNK = [
    "ok", "lol", "!!!", "...", "+1", "thx", "??", "-", "a", "test",
    "#$%^&*()_+{}|:<>?~`", "@@@@ #### $$$$ %%%%", "~~~~~~~~~~~~~~~~~~~~", "=-=-=-=-=-=-=-=-=-=-=-",
    "Home | About | Products | Blog | Contact | Login | Register | Cart (0)",
    "Home > Category > Subcategory > Item",
    "Skip to main content Menu Search Sign in Subscribe",
    "Accept all cookies | Reject | Manage preferences",
    "Copyright © 2023 All rights reserved. Privacy Policy | Terms of Use | Sitemap",
    "Click here click here click here click here click here",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
    "Lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum",
    "This page intentionally left blank.",
    "Loading... Loading... Loading...",
    "buy buy buy buy buy buy buy buy buy buy buy buy",
    "spam spam spam spam spam spam spam spam spam spam",
    "asdfghjkl qwertyuiop zxcvbnm",
    "1234567890 1234567890 1234567890",
    "<div class=\"nav\"><ul><li>Home</li><li>News</li></ul></div>",
    "Share on Facebook Share on Twitter Share on LinkedIn Share via Email",
    "Previous | Next | Page 1 of 27",
    "404 Not Found",
    "▲▼▲▼▲▼▲▼▲▼▲▼",
    "null", "undefined", "N/A",
]

ODD_SPACES = ["\u00a0", "\t", "\u200b", "\u3000", "  ", "\u2009"]


def _fill(rng: random.Random, template: str) -> str:
    out = []
    i = 0
    while True:
        j = template.find("{", i)
        if j < 0:
            out.append(template[i:])
            break
        k = template.index("}", j)
        out.append(template[i:j])
        out.append(rng.choice(SLOTS[template[j + 1:k]]))
        i = k + 1
    text = "".join(out)
    return text[0].upper() + text[1:]


def _fancy(rng: random.Random, text: str) -> str:
    """Typographic quotes, dashes and ellipses here and there."""
    roll = rng.random()
    if roll < 0.25:
        text = text.replace("'", "’")
    if 0.25 <= roll < 0.4 and " " in text:
        words = text.split(" ")
        a = rng.randrange(len(words))
        words[a] = f"“{words[a]}”"
        text = " ".join(words)
    if 0.4 <= roll < 0.5:
        text = text.replace(", ", " — ", 1)
    if 0.5 <= roll < 0.55:
        text = text.rstrip(".") + "…"
    return text


def _odd_whitespace(rng: random.Random, text: str) -> str:
    if " " not in text:
        return text
    words = text.split(" ")
    for _ in range(rng.randint(1, 3)):
        a = rng.randrange(1, len(words)) if len(words) > 1 else 0
        words[a] = rng.choice(ODD_SPACES) + words[a]
    text = " ".join(words)
    if rng.random() < 0.3:
        text = "  " + text + " \t"
    return text


def _english(rng: random.Random, topic: str) -> str:
    templates = TOPICS[topic]
    n = rng.choice([1, 2, 3, 3, 4, 4, 5, 6])
    sentences = [_fancy(rng, _fill(rng, t)) for t in rng.sample(templates, k=n)]
    if rng.random() < 0.15:
        # two paragraphs
        cut = rng.randint(1, max(1, n - 1))
        return " ".join(sentences[:cut]) + "\n\n" + " ".join(sentences[cut:])
    return " ".join(sentences)


def _contact(rng: random.Random) -> str:
    email = f"{rng.choice(NAMES)}@{rng.choice(DOMAINS)}"
    url = f"{rng.choice(['https', 'http'])}://{rng.choice(['www.', ''])}{rng.choice(DOMAINS)}{rng.choice(URL_PATHS)}"
    return rng.choice([
        f"Write to {email} if you have questions.",
        f"Contact me at {email}.",
        f"Full details here: {url}",
        f"Source: {url}",
        f"More photos on my blog ({url}), or e-mail {email}.",
        f"I posted the logs at {url} — feel free to ping me at {email}.",
        f"(see {url})",
        f"Orders and complaints: {email}",
    ])


def _foreign(rng: random.Random, lang: str) -> str:
    sentences = rng.sample(FOREIGN[lang], k=rng.randint(1, 4))
    sep = "" if lang in ("zh", "ja") else " "
    text = sep.join(sentences)
    if lang == "zh" and rng.random() < 0.3:
        text = text.replace("。", "，", 1)
    return text


def _near_duplicate(rng: random.Random, text: str) -> str | None:
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if w.isalpha() and len(w) > 3]
    if not candidates:
        return None
    i = rng.choice(candidates)
    pool = [w for values in SLOTS.values() for v in values for w in v.split() if w.isalpha()]
    replacement = rng.choice(pool)
    if replacement == words[i]:
        replacement = replacement + "s"
    words[i] = replacement
    return " ".join(words)


def generate(n_rows: int = N_ROWS, seed: int = SEED) -> list[dict]:
    rng = random.Random(seed)
    topics = list(TOPICS)
    langs = list(FOREIGN)
    texts: list[tuple[str, dict]] = []
    while len(texts) < n_rows:
        roll = rng.random()
        if roll < 0.05 and len(texts) > 20:  # exact duplicate of an earlier row
            texts.append(rng.choice(texts))
            continue
        if roll < 0.10 and len(texts) > 20:  # near duplicate: one word changed
            text, meta = rng.choice(texts)
            if meta["lang"] == "en" and meta["source"] != "junk":
                changed = _near_duplicate(rng, text)
                if changed is not None and changed != text:
                    texts.append((changed, dict(meta)))
                    continue
        if roll < 0.18:
            texts.append((rng.choice(JUNK) if rng.random() < 0.8 else
                          " ".join([rng.choice(["the", "and", "click", "more", "…", "|"])] * rng.randint(3, 30)),
                          {"source": "junk", "lang": "unknown"}))
            continue
        if roll < 0.28:
            lang = rng.choice(langs)
            texts.append((_foreign(rng, lang), {"source": FOREIGN_SOURCE[lang], "lang": lang}))
            continue
        topic = rng.choice(topics)
        text = _english(rng, topic)
        if rng.random() < 0.12:
            contact = _contact(rng)
            text = f"{text} {contact}" if rng.random() < 0.7 else f"{contact} {text}"
        if rng.random() < 0.08:
            text = _odd_whitespace(rng, text)
        texts.append((text, {"source": topic, "lang": "en"}))
    return [{"id": i, "text": text, "meta": dict(meta)} for i, (text, meta) in enumerate(texts)]


def write(path: Path = OUT, rows: list[dict] | None = None) -> Path:
    rows = generate() if rows is None else rows
    payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(payload)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return path


if __name__ == "__main__":
    out = write(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    print(f"wrote {out} ({out.stat().st_size} bytes)")
